"""The crisis path: a person in danger gets the emergency numbers at once, in their language;
a look-alike ("this course is killing me") does not; a broken content/crisis.yml names its line.

The messages below are a development set written for these tests (sloppy, without diacritics,
first and third person), not copied from the expressions in content/crisis.yml. The independent
test set in tests/nlu/crisis.yml is measured by `make eval`. The dialogue tests use a FAKE NLU.
"""

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.content import load_content
from bot.crisis import CrisisGuide, Expression, load_crisis, parse_expression
from bot.dialogue import Dialogue
from bot.errors import ContentError
from bot.i18n import load_languages
from bot.language_detection import LanguageGuesser
from bot.messages import IncomingMessage
from bot.settings import PROJECT_ROOT
from bot.storage import Storage, make_engine, migrate
from tests.fakes import FakeNlu

CRISIS_FILE = PROJECT_ROOT / "content" / "crisis.yml"
LANGUAGES = {"de", "en", "ar", "tr", "ro", "uk", "ru", "fa", "fr", "bg"}
NUMBERS = ("110", "112", "116 016", "0800 111 0 111", "0800 111 0 222", "116 111")
KI_NUMBERS = ("02323 16-4571", "02323 16-4705")  # KIM team lead, CaféO integration scout (report p. 58 f.)

# (language, category, message): each must be taken for a crisis.
CRISES = [
    ("de", "suicide", "ich will echt nicht mehr leben, alles ist sinnlos"),
    ("de", "suicide", "hab mich gestern wieder mit der rasierklinge geritzt"),
    ("de", "suicide", "kann nicht mehr, ich will einfach alles beenden"),
    ("de", "violence", "mein mann schlaegt mich fast jeden tag"),
    ("de", "violence", "mein bruder sagt er bringt mich um wenn ich mich weiter mit dem freund treffe"),
    ("de", "violence", "meine eltern wollen mich in der türkei zwangsverheiraten"),
    ("de", "violence", "jemand verfolgt mich seit wochen und droht mir"),
    ("de", "violence", "wurde vergewaltigt was soll ich jetzt machen"),
    ("de", "medical", "mein vater ist umgekipt und atmet nicht mehr"),
    ("de", "medical", "der kleine hat eine knopfbatterie verschluckt was soll ich tun"),
    ("de", "medical", "oma redet komisch, gesicht hängt schief, schlaganfall??"),
    ("de", "child", "nachbar prügelt sein kind ich hör es jeden abend schreien"),
    ("de", "child", "meine tochter 3 jahre ist allein in der wohnung eingeschlossen"),
    ("en", "suicide", "i really want to die tonight nobody would care"),
    ("en", "suicide", "ive been cutting myself again and its getting worse"),
    ("en", "suicide", "cant take it anymore, i want to end it"),
    ("en", "violence", "my husband beats me when he is drunk"),
    ("en", "violence", "he said he will kill me if i go to the police"),
    ("en", "violence", "my family is forcing me to marry my cousin"),
    ("en", "violence", "im being stalked by my ex and he threatens me"),
    ("en", "medical", "my friend collapsed and isnt breathing what do i do"),
    ("en", "medical", "toddler swallowed a dishwasher tablet"),
    ("en", "medical", "i think my dad is having a heart attack"),
    ("en", "child", "the neighbours hit their kids every night i can hear it"),
    ("en", "child", "a little kid is alone at the train station crying"),
    ("ar", "violence", "جوزي كل يوم بيضربني وبيهددني"),
    ("ar", "suicide", "بدي انتحر ما عاد فيني"),
    ("ar", "suicide", "خلص تعبت من حياتي وما بدي عيش"),
    ("ar", "medical", "ابني الصغير بلع دوا من الخزانه"),
    ("ar", "medical", "ابوي وقع على الارض وما عم يتنفس"),
    ("ar", "violence", "اخوي هددني بالقتل اذا ما تزوجت ابن عمي"),
    ("ar", "child", "في رجال بيضرب ولاده كل يوم بالشارع"),
    ("ar", "child", "بنتي عمرها ٤ سنين ضايعه ما لاقيها"),
    ("ar", "medical", "في نزيف قوي من راسه"),
    ("ar", "violence", "اتعرضت للتحرش من المدير"),
    ("fa", "suicide", "دیگه نمیخوام زنده باشم"),
    ("fa", "suicide", "می‌خوام خودمو بکشم"),
    ("fa", "violence", "شوهرم هر شب منو کتک میزنه"),
    ("fa", "violence", "برادرم تهدید کرده منو میکشه"),
    ("fa", "medical", "پدرم بیهوش شده نفس نمیکشه"),
    ("fa", "medical", "بچه‌ام قرص‌های منو قورت داده"),
    ("fa", "child", "همسایه بچه‌هاشو میزنه صدای گریه میاد"),
    ("fa", "child", "دختر کوچولو تنها تو خیابونه گریه میکنه"),
    ("fa", "violence", "یه نفر داره تعقیبم میکنه میترسم"),
    ("fa", "medical", "مادرم سکته کرده کمک"),
    ("tr", "suicide", "artik yasamak istemiyorum hicbir anlami yok"),
    ("tr", "suicide", "bu gece kendimi oldurecegim"),
    ("tr", "violence", "kocam beni her gun dovuyor"),
    ("tr", "violence", "abim beni oldurmekle tehdit ediyor"),
    ("tr", "violence", "ailem beni zorla evlendirmek istiyor"),
    ("tr", "medical", "babam bayildi nefes almiyor"),
    ("tr", "medical", "oglum camasir suyu icmis"),
    ("tr", "child", "komsu cocugunu dovuyor cok bagiriyor"),
    ("tr", "child", "2 yasinda cocuk sokakta tek basina agliyor"),
    ("tr", "medical", "annem kalp krizi geciriyor galiba"),
    ("ro", "suicide", "nu mai vreau sa traiesc, ma gandesc sa ma sinucid"),
    ("ro", "suicide", "am luat toate pastilele din casa"),
    ("ro", "violence", "sotul ma bate si ma ameninta"),
    ("ro", "violence", "vor sa ma marite cu forta cu un om batran"),
    ("ro", "violence", "ma urmareste un barbat si mi e frica"),
    ("ro", "medical", "tata a lesinat si nu mai respira"),
    ("ro", "medical", "copilul a inghitit o baterie"),
    ("ro", "medical", "sange mult nu se opreste"),
    ("ro", "child", "vecinul isi bate copilul in fiecare zi"),
    ("ro", "child", "un copil mic e singur pe strada si plange"),
    ("uk", "suicide", "не хочу більше жити, все набридло"),
    ("uk", "suicide", "думаю про самогубство кожен день"),
    ("uk", "violence", "мене б'є чоловік коли п'яний"),
    ("uk", "violence", "колишній погрожує вбити мене"),
    ("uk", "violence", "мене зґвалтували"),
    ("uk", "medical", "тато знепритомнів і не дихає"),
    ("uk", "medical", "дитина випила засіб для посуду"),
    ("uk", "medical", "у мами інсульт здається"),
    ("uk", "child", "сусід б'є свою дитину"),
    ("uk", "child", "маленька дитина сама на вулиці плаче"),
    ("ru", "suicide", "не хочу больше жить устала от всего"),
    ("ru", "suicide", "хочу покончить с собой"),
    ("ru", "violence", "муж меня бьет каждый день"),
    ("ru", "violence", "он угрожает что убьет меня"),
    ("ru", "violence", "меня изнасиловали вчера"),
    ("ru", "medical", "бабушка без сознания не дышит"),
    ("ru", "medical", "ребенок проглотил мамины таблетки"),
    ("ru", "medical", "у папы сердечный приступ"),
    ("ru", "child", "отчим избивает моего сына"),
    ("ru", "child", "маленький ребенок один дома третий день"),
    # regressions: a third person or the future (suicide), pills collected, violence now against someone else,
    # a child locked up, not fed or alone at night, a fire; a real threat next to a hyperbole
    ("de", "suicide", "meine cousine hat geschrieben sie bringt sich heute abend um"),
    ("de", "suicide", "ich hab seit wochen tabletten gesammelt und schluck sie heute alle"),
    ("de", "suicide", "kann nich mehr, will nit mehr leben"),
    ("de", "suicide", "mein freund steht oben auf der brücke und geht nicht ans telefon"),
    ("de", "violence", "papa verprügelt gerade mama in der küche"),
    ("de", "violence", "vor dem haus stechen zwei leute mit messern aufeinander ein"),
    ("de", "violence", "mein exmann hat gesagt er bringt mich um wenn ich die kinder nehme"),
    ("de", "child", "die leute von oben sperren ihren kleinen sohn im keller ein und geben ihm nix zu essen"),
    ("de", "child", "ein kleines mädchen steht nachts allein an der haltestelle und weint"),
    ("de", "medical", "in unserem treppenhaus brennt es, überall rauch"),
    ("en", "suicide", "my cousin messaged that he is going to kill himself tonight"),
    ("en", "suicide", "she has been saving up pills and says she will swallow them all"),
    ("en", "suicide", "my flatmate is standing on the bridge and wont answer his phone"),
    ("en", "suicide", "i cant cope anymore, i want everything to end"),
    ("en", "violence", "my stepfather is punching my mother right now"),
    ("en", "violence", "two guys are fighting with knives in front of our building"),
    ("en", "violence", "my boss yelled but my husband says he will kill me tonight"),
    ("en", "child", "the family upstairs keeps their toddler locked in the cellar and doesnt feed him"),
    ("en", "child", "a little boy is alone at the bus station at midnight, no parents anywhere"),
    ("en", "medical", "our kitchen is on fire and there is smoke everywhere"),
    ("ar", "suicide", "اختي بعتتلي انها رح تنهي حياتها"),
    ("ar", "suicide", "جمعت دوا من شهر وبدي اخدهم كلهم الليله"),
    ("ar", "suicide", "ana bdi emout ma 3ad fiye"),
    ("ar", "violence", "ابوي عم يضرب امي هلق وعم تصرخ"),
    ("ar", "violence", "في شباب عم يتقاتلوا بالسكاكين تحت البيت"),
    ("ar", "child", "الجيران حابسين طفل صغير بالقبو وما بيطعموه"),
    ("ar", "child", "في بنت صغيره لحالها بالليل بالمحطه عم تبكي"),
    ("fa", "suicide", "داداشم پیام داده که میخواد خودشو بکشه"),
    ("fa", "suicide", "دیگه نمیکشم، میخوام همه چی رو تموم کنم"),
    ("fa", "suicide", "mikham khodkoshi konam dige"),
    ("fa", "violence", "بابام الان داره مامانمو میزنه"),
    ("fa", "child", "همسایه ها بچشونو تو زیرزمین زندانی کردن"),
    ("fa", "child", "یه دختر کوچولو نصف شب تنها تو ایستگاهه"),
    ("tr", "suicide", "abim kendini öldüreceğini yazdı"),
    ("tr", "suicide", "artık dayanamıyorum, hepsine son vermek istiyorum"),
    ("tr", "suicide", "bütün ilaçlarımı içtim"),
    ("tr", "violence", "babam şu an annemi dövüyor"),
    ("tr", "child", "komşular küçük oğlanı bodruma kilitliyor, yemek vermiyorlar"),
    ("tr", "child", "gece istasyonda küçük bir kız tek başına ağlıyor"),
    ("ro", "suicide", "sora mea a scris ca isi ia viata diseara"),
    ("ro", "suicide", "am strans pastile si le iau pe toate"),
    ("ro", "violence", "vecinul isi bate sotia chiar acum"),
    ("ro", "child", "vecinii tin copilul inchis in pivnita si nu ii dau de mancare"),
    ("ro", "child", "o fetita e singura noaptea in gara si plange"),
    ("uk", "suicide", "брат написав, що покінчить з собою"),
    ("uk", "suicide", "назбирала пігулок і вип'ю всі"),
    ("uk", "violence", "вітчим зараз душить маму"),
    ("uk", "child", "сусіди замикають малого в підвалі і не годують"),
    ("uk", "child", "маленька дівчинка сама вночі на вокзалі"),
    ("ru", "suicide", "сестра написала что покончит с собой"),
    ("ru", "suicide", "ne hochu bolshe zhit"),
    ("ru", "violence", "отчим прямо сейчас душит маму"),
    ("ru", "child", "соседи запирают малыша в подвале и не кормят"),
    ("ru", "child", "маленькая девочка одна ночью на вокзале плачет"),
    # the second round (medical signs, a fall, missing and touched children, threats to stab, spoken Turkish)
    ("de", "medical", "papa hat so stiche in der brust, schwitzt total"),
    ("de", "medical", "oma ist von der leiter gefallen und kann sich nich bewegen"),
    ("de", "child", "der stiefvater befummelt meine kleine schwester"),
    ("en", "medical", "my wife's mouth is drooping and she has slurred speech"),
    ("en", "child", "cant find him anywhere, my boy is 4"),
    ("ar", "medical", "امي وقعت وما عم تفيق"),
    ("ar", "child", "بنتي ضاعت بالسوق من ساعة"),
    ("fa", "medical", "بابام از نردبون افتاده نمیتونه تکون بخوره"),
    ("tr", "medical", "babam uyanmiyo, gözleri kapalı"),
    ("tr", "medical", "annemin ağzı kaymış, konuşamıyor"),
    ("tr", "child", "kızım kayıp, parkta bulamıyoruz"),
    ("ro", "medical", "tata a cazut pe scari si nu se poate misca"),
    ("ro", "child", "fiica mea a disparut de la scoala"),
    ("uk", "medical", "у тата перекосило обличчя"),
    ("uk", "child", "пропала донька, не відповідає на телефон"),
    ("ru", "violence", "бывший грозится меня прирезать"),
    ("ru", "child", "пропал сын после школы"),
    ("fr", "suicide", "je veux plus vivre j'en peux plus"),
    ("fr", "suicide", "je pense a me suicider ce soir"),
    ("fr", "violence", "mon mari me frappe tous les soirs"),
    ("fr", "violence", "mon ex menace de me tuer"),
    ("fr", "violence", "j'ai ete violee hier"),
    ("fr", "medical", "mon pere ne respire plus aidez moi"),
    ("fr", "medical", "mon fils a avale des medicaments"),
    ("fr", "medical", "ma mere fait une crise cardiaque je crois"),
    ("fr", "child", "le voisin frappe ses enfants tous les jours"),
    ("fr", "child", "un petit enfant seul dans la rue il pleure"),
    ("bg", "suicide", "не искам вече да живея, писна ми от всичко"),
    ("bg", "suicide", "мисля да се самоубия"),
    ("bg", "violence", "мъжът ми ме бие всеки ден"),
    ("bg", "violence", "бившият заплашва че ще ме убие"),
    ("bg", "violence", "изнасилиха ме"),
    ("bg", "medical", "баща ми припадна и не диша"),
    ("bg", "medical", "детето изпи препарат за чистене"),
    ("bg", "medical", "майка ми получи инсулт мисля"),
    ("bg", "child", "съседът бие детето си"),
    ("bg", "child", "малко дете само на улицата плаче"),
    # the third round (session 16, tuned on tests/nlu/crisis-blind.yml; none of these is from a set): a break-in
    # now, touching a sister or the writer, a handful of pills, a child hurt, a small child alone by a main road
    ("de", "violence", "hilfe da versucht einer grad bei uns einzubrechen"),
    ("de", "violence", "jemand tritt gerade unsere wohnungstür ein"),
    ("de", "child", "mamas neuer freund fasst meine kleine schwester immer an"),
    ("de", "suicide", "hab nen haufen schmerztabletten genommen"),
    ("de", "child", "der typ von oben tut dem nachbarskind weh"),
    ("en", "violence", "somebody is breaking into our house right now"),
    ("en", "violence", "there are burglars downstairs, we are hiding"),
    ("en", "child", "he keeps touching my little sister"),
    ("en", "suicide", "took a handful of painkillers"),
    ("en", "child", "a toddler is walking alone next to the motorway"),
    ("en", "child", "saw a boy of about 4 years old alone beside the motorway"),
    ("ar", "violence", "في حدا عم يكسر باب البيت علينا"),
    ("ar", "child", "جوز امي بيلمسني بالليل"),
    ("ar", "suicide", "اخدت شريط كامل"),
    ("tr", "violence", "biri kapımızı kırıyor şu an"),
    ("tr", "child", "üvey babam bana dokunuyor"),
    ("tr", "suicide", "kardeşim bir sürü hap içti"),
    ("tr", "child", "yol kenarında tek başına bir çocuk yürüyor"),
    ("ro", "violence", "sparg usa la noi, ajutor"),
    ("ro", "child", "unchiul o atinge pe sora mea"),
    ("ro", "suicide", "am luat o gramada de pastile"),
    ("uk", "violence", "хтось ломиться в двері"),
    ("uk", "child", "вітчим чіпає мою сестру"),
    ("uk", "suicide", "випила купу пігулок"),
    ("ru", "violence", "воры в квартире сейчас"),
    ("ru", "child", "дядя трогает мою сестру"),
    ("ru", "suicide", "выпила кучу таблеток"),
    ("fa", "violence", "یکی داره در خونه رو میشکنه"),
    ("fa", "child", "عموم به خواهرم دست میزنه"),
    ("fa", "child", "بابای همسایه دختر کوچولو رو اذیت میکنه"),
    ("fr", "violence", "quelqu'un essaie d'entrer chez moi"),
    ("fr", "child", "mon oncle touche ma petite soeur"),
    ("fr", "suicide", "j'ai avalé une poignée de cachets"),
    ("fr", "child", "un petit garçon marche seul au bord de la route"),
    ("fr", "child", "un homme frappe l'enfant des voisins"),
    ("bg", "violence", "някой разбива вратата"),
    ("bg", "child", "пастрокът докосва сестра ми"),
    ("bg", "suicide", "изпих шепа хапчета"),
    ("bg", "child", "малко дете върви само покрай главния път"),
    # the fourth round (session 16, tuned on tests/nlu/crisis-blind-2.yml; none of these is from a set): not wanting
    # to wake up, the whole box of pills, a jump or train announced, a child who drank a cleaner, fell and does not
    # respond, chest pain, a child alone at home for days, a minor to be married off, a neighbour beating his child
    ("de", "suicide", "hoffentlich wache ich nicht mehr auf"),
    ("de", "medical", "die kleine hat abflussreiniger getrunken"),
    ("de", "child", "das baby von oben ist seit gestern allein"),
    ("en", "suicide", "i just hope i never wake up"),
    ("en", "medical", "grandpa fell and is not responding"),
    ("en", "child", "they are going to marry off my 13 year old cousin"),
    ("ar", "suicide", "مابدي فيق الصبح"),
    ("ar", "child", "بدهم يزوجو اختي الصغيرة"),
    ("ar", "medical", "ابوي عنده الم قوي بالصدر"),
    ("fa", "suicide", "کاش دیگه بیدار نشم"),
    ("fa", "medical", "bache vaytex khorde"),
    ("fa", "child", "به زور شوهرش بدن میخوان"),
    ("tr", "suicide", "keşke bir daha uyanmasam"),
    ("tr", "medical", "dedem düştü tepki vermiyor"),
    ("tr", "child", "kuzenimi 13 yaşında evlendirecekler"),
    ("ro", "suicide", "vreau sa adorm si sa nu ma mai trezesc"),
    ("ro", "medical", "copilul a baut inalbitor"),
    ("ro", "child", "fetita e singura acasa de ieri"),
    ("uk", "suicide", "він каже що стрибне з мосту"),
    ("uk", "medical", "дідусь впав і не реагує"),
    ("uk", "child", "хочуть видати заміж мою племінницю"),
    ("ru", "suicide", "не хочу больше просыпаться никогда"),
    ("ru", "medical", "дед упал и не отвечает"),
    ("ru", "child", "сосед бьет сына каждый вечер"),
    ("fr", "suicide", "mon copain veut se jeter sous le metro"),
    ("fr", "medical", "mon fils a bu du produit pour le sol"),
    ("fr", "medical", "mon mari a mal a la poitrine depuis une heure"),
    ("fr", "child", "le bebe du voisin est seul depuis hier"),
    ("fr", "child", "ils veulent la marier a 14 ans"),
    ("bg", "suicide", "не искам повече да се събуждам сутрин"),
    ("bg", "medical", "дядо падна и не отговаря"),
    ("bg", "child", "съседът бие децата си"),
    ("de", "suicide", "ich möchte morgen früh nicht mehr aufwachen"),  # 'früh aufwachen' alone is no look-alike
    ("en", "medical", "the baby drank some laundry liquid"),
    ("fr", "child", "ils obligent une gamine de 12 ans a se marier"),
]

# (language, message): each sounds like one but is no crisis.
LOOK_ALIKES = [
    ("de", "dieser deutschkurs bringt mich noch um haha"),
    ("de", "ich hab voll angst vor dem einstufungstest"),
    ("de", "gibt es bei euch kurse zur gewaltprävention für jugendliche"),
    ("de", "wo kann ich einen erste hilfe kurs machen für den führerschein"),
    ("de", "wann hat der ärztliche notdienst am wochenende offen"),
    ("de", "mein handy ist tot, kann ich bei euch laden"),
    ("de", "ich sterbe vor langeweile im wartezimmer"),
    ("de", "was schlägt die beraterin vor wenn ich keinen kitaplatz finde"),
    ("de", "darf mein kind allein zur schule gehen mit 7"),
    ("en", "this grammar course is killing me lol"),
    ("en", "im dying to know when the next course starts"),
    ("en", "my phone died, can i charge it at cafeo"),
    ("en", "do you offer violence prevention workshops"),
    ("en", "is there a first aid course in herne"),
    ("en", "when is the emergency doctor open on sunday"),
    ("en", "the deadline for the application is killing me"),
    ("en", "beats me why the office is closed"),
    ("en", "can my child go alone to the course"),
    ("ar", "الامتحان رح يقتلني من كتر الصعوبه"),
    ("ar", "هل في دوره عن الوقايه من العنف للشباب"),
    ("ar", "وين في كورس اسعافات اوليه"),
    ("ar", "متى بيفتح طبيب الطوارئ يوم الاحد"),
    ("ar", "انا خايف من امتحان اللغه"),
    ("ar", "عم موت من الضحك على هالفيديو"),
    ("ar", "الموبايل تبعي مات بدي شاحن"),
    ("ar", "قديش 6 ضرب 8"),
    ("fa", "این امتحان داره منو میکشه"),
    ("fa", "الهی بمیرم برات عزیزم"),
    ("fa", "کلاس پیشگیری از خشونت دارید؟"),
    ("fa", "دوره کمک‌های اولیه کجاست"),
    ("fa", "داروخانه شبانه روزی هرنه کجاست"),
    ("fa", "از امتحان زبان میترسم"),
    ("fa", "گوشیم خاموش شد شارژ ندارم"),
    ("tr", "bu almanca kursu beni oldurecek"),
    ("tr", "sinavdan cok korkuyorum"),
    ("tr", "siddet onleme kursu var mi"),
    ("tr", "ilk yardim kursu nerede"),
    ("tr", "nobetci eczane hangisi bugun"),
    ("tr", "meraktan oluyorum ne zaman basliyor"),
    ("tr", "bu ne oluyor anlamadim"),
    ("ro", "cursul asta de germana ma omoara"),
    ("ro", "mor de curiozitate cand incepe cursul"),
    ("ro", "aveti curs de prim ajutor?"),
    ("ro", "exista un proiect de prevenire a violentei?"),
    ("ro", "ma bate gandul sa ma mut in alt oras"),
    ("ro", "farmacia de garda e deschisa duminica?"),
    ("ro", "mi-e frica de examenul de limba"),
    ("uk", "цей курс німецької мене вбиває"),
    ("uk", "помираю від цікавості коли будуть результати"),
    ("uk", "чи є тренінг з профілактики насильства"),
    ("uk", "де пройти курс першої допомоги"),
    ("uk", "чергова аптека в херне"),
    ("uk", "боюся іспиту з німецької"),
    ("uk", "дитина може сама ходити до школи?"),
    ("ru", "эта грамматика меня убивает"),
    ("ru", "умираю от любопытства"),
    ("ru", "есть курс профилактики насилия?"),
    ("ru", "где курс первой помощи"),
    ("ru", "дежурная аптека в херне"),
    ("ru", "боюсь экзамена по немецкому"),
    ("ru", "ребенок может один ходить в школу?"),
    # regressions: a boss, papers or an office "will kill me", "dying to know", school fire drills
    ("de", "mein vorgesetzter bringt mich um wenn ich wieder zu spät bin"),
    ("de", "der ganze papierkram vom jobcenter bringt mich noch um"),
    ("de", "morgen ist probealarm in der kita meiner tochter"),
    ("en", "my supervisor will kill me if im late again haha"),
    ("en", "the paperwork at the immigration office is killing me"),
    ("en", "im dying to know when the registration office opens"),
    ("en", "there is a fire drill at my sons school on friday"),
    ("ar", "المدير رح يقتلني اذا اتأخرت"),
    ("ar", "بموت لاعرف امتى بيفتح المكتب"),
    ("ar", "في تدريب على انذار الحريق بمدرسه ابني"),
    ("fa", "رئیسم اگه دیر برسم منو میکشه"),
    ("fa", "این کاغذبازی اداره منو کشت"),
    ("fa", "فردا مانور آتش سوزی تو مدرسه پسرمه"),
    ("tr", "patronum geç kalırsam beni öldürür"),
    ("tr", "bu evraklar beni öldürecek"),
    ("tr", "okulda yangın tatbikatı var yarın"),
    ("ro", "seful ma omoara daca intarzii iar"),
    ("ro", "actele astea de la primarie ma omoara"),
    ("ro", "maine e exercitiu de incendiu la scoala"),
    ("uk", "начальник мене вб'є, якщо я запізнюсь"),
    ("uk", "ці документи мене вбивають"),
    ("uk", "завтра навчальна пожежна тривога в школі"),
    ("ru", "начальник меня убьет если опоздаю"),
    ("ru", "эти бумаги меня убивают"),
    ("ru", "завтра учебная пожарная тревога в школе"),
    # everyday sentences near the second round's expressions
    ("de", "mein sohn ist seit 2 jahren in deutschland, welche schule"),
    ("de", "ich kann morgens nicht aufstehen, gibt es abendkurse"),
    ("en", "my passport has gone missing, what do i do"),
    ("en", "i cant get up early for the course"),
    ("tr", "almanca konuşamıyorum, kurs var mı"),
    ("tr", "2 saattir adresi bulamıyorum"),
    ("tr", "başvurum ne zaman bitecek"),
    ("ro", "nu o gasim adresa de la cafeo"),
    ("uk", "начальник грозиться звільнити мене"),
    ("ru", "начальник грозится уволить"),
    ("ru", "не можем найти адрес кафе"),
    ("fa", "یه دستمال کاغذی دارین"),
    ("fa", "raisam mano mikoshe age dir beram"),
    ("fr", "ce cours d'allemand me tue"),
    ("fr", "je meurs de faim on mange quand"),
    ("fr", "il y a un cours de premiers secours?"),
    ("fr", "prevention de la violence au cafe o?"),
    ("fr", "mon telephone est mort je rappelle"),
    ("fr", "j'ai peur de l'examen d'allemand"),
    ("fr", "mon enfant peut aller seul a l'ecole?"),
    ("fr", "la conseillere qui me suit est malade"),
    ("bg", "този курс ме убива"),
    ("bg", "умирам от глад кога ядем"),
    ("bg", "има ли курс по първа помощ"),
    ("bg", "телефонът ми умря ще звънна пак"),
    ("bg", "страх ме е от изпита по немски"),
    ("bg", "детето може ли само да ходи на училище"),
    ("bg", "трябва ми удостоверение за раждане"),
    ("bg", "къде е кафето в Херне"),
    # near the third round: first-person hyperbole, a film about a murder, 'broke into tears', 'get in touch', work
    # or heat 'killing me', campaigns against violence, 'toucher' a pension, a child walking alone to school
    ("de", "ich könnte ihn umbringen, der hat schon wieder mein rad genommen"),
    ("de", "die serie über den mord war echt spannend"),
    ("en", "i could kill him lol he ate my fries"),
    ("en", "she broke into tears when the letter came"),
    ("en", "please get in touch with my daughter's school"),
    ("en", "my job is killing me, so tired"),
    ("en", "watched a murder documentary yesterday, so creepy"),
    ("en", "campaign against violence at schools"),
    ("en", "can my son walk alone to school at 8"),
    ("en", "i have to take a lot of medication, is there a pharmacy near"),
    ("ar", "الحر عم يموتني، في مكيف بالكافيه؟"),
    ("ar", "في حملة ضد العنف بهيرنه؟"),
    ("tr", "süt bana dokunuyor, laktozsuz var mı"),
    ("tr", "onu öldüresim geldi ya, yine geç kaldı"),
    ("tr", "okul beni öldürüyor, çok yoruldum"),
    ("uk", "ця робота мене вбиває"),
    ("ru", "работа меня убивает, так устала"),
    ("fa", "کار داره منو میکشه از خستگی"),
    ("fr", "ça me touche quand vous aidez comme ça"),
    ("fr", "je touche ma petite pension, j'ai droit à une aide ?"),
    ("fr", "un atelier contre la violence à l'école ?"),
    ("ro", "se poate in turca"),
    # near the fourth round: how long or from what age a child may stay alone, kids waiting alone in the café, not
    # being able to leave a child alone, 'the course' (as subject) will kill me, a fight at school, a wedding, 'only at home'
    ("de", "ab wann kann ein kind allein zuhause bleiben"),
    ("de", "ich kann meine tochter nicht allein lassen, darf sie mit in den kurs"),
    ("en", "what age can a child be left alone at home in germany"),
    ("en", "i cant leave my child alone, may i bring her"),
    ("ar", "من اي عمر ممكن الولد يبقى لحاله بالبيت"),
    ("tr", "çocuğumu yalnız bırakamıyorum, kursa getirebilir miyim"),
    ("uk", "з якого віку дитина може бути сама вдома"),
    ("ru", "не с кем оставить ребенка одного, можно прийти с ним"),
    ("fa", "بچم رو نمیتونم تنها بذارم، بیارمش؟"),
    ("fr", "à partir de quel âge un enfant peut rester seul"),
    ("fr", "mon fils s'est battu à la récré, je dois voir le directeur"),
    ("fr", "ma fille va se marier au pays, quels papiers"),
    ("bg", "курсът по немски ще ме убие"),
    ("bg", "работя само вкъщи от понеделник"),
    ("ro", "asistentul social nu mai raspunde la telefon"),
    ("uk", "я сама вдома з дитиною, є онлайн курс?"),
    ("en", "i dont want to wake up so early for the course"),
    ("uk", "не хочу рано прокидатися, є вечірній курс?"),
    ("fa", "نمیخوام صبح زود بیدار شم، کلاس عصر هست؟"),
    ("en", "the app is not responding, can i register by phone"),
    ("en", "i take all my pills in the morning, can i come at 9"),
]


@pytest.fixture(scope="module")
def guide() -> CrisisGuide:
    return load_crisis(CRISIS_FILE, LANGUAGES)


def test_the_dev_set_covers_every_language_and_category() -> None:
    for language in LANGUAGES:
        crises = [c for lang, c, _ in CRISES if lang == language]
        assert len(crises) >= 6 and set(crises) == {"suicide", "violence", "medical", "child"}, language
        assert len([t for lang, t in LOOK_ALIKES if lang == language]) >= 6, language


@pytest.mark.parametrize(("language", "category", "message"), CRISES)
def test_a_person_in_danger_is_recognised(guide: CrisisGuide, language: str, category: str, message: str) -> None:
    assert guide.detect(message) is not None


@pytest.mark.parametrize(("language", "message"), LOOK_ALIKES)
def test_a_look_alike_is_no_crisis(guide: CrisisGuide, language: str, message: str) -> None:
    assert guide.detect(message) is None


@pytest.mark.parametrize(("language", "category", "message"), CRISES)
def test_the_danger_is_placed_in_the_language_it_was_written_in(guide: CrisisGuide, language: str, category: str,
                                                                message: str) -> None:
    """A first message gets the reply in the language of the expression that matched."""
    match = guide.detect(message)
    assert match is not None and match.language == language, match


def test_a_look_alike_does_not_hide_a_real_crisis_in_the_same_message(guide: CrisisGuide) -> None:
    assert guide.detect("der deutschkurs bringt mich um, aber zu hause schlägt mich mein mann") is not None
    assert guide.detect("gibt es gewaltprävention? mein mann schlägt mich") is not None


@pytest.mark.parametrize("message", [
    "my former husband will kill me",  # "form" (papers) must not swallow "former"
    "in germany he told me he will kill me",  # "german" (the language) must not swallow "germany"
    "help, he is killing me",
    "mein exmann bringt mich um",
    "wenn ich zur polizei gehe, bringt er mich um",
    "amir beni öldürecek",  # a name, not "amir" (a superior)
    "mi-a spus direct ca ma omoara",
    "він заявив, що вб'є мене",  # "заявив" (declared) is no application form
    "в очередной раз сказал что убьет меня",  # "очередной" (another) is no queue
    "معاملته سيئه ورح يقتلني",
    "my husband will kill me if i come home late",  # "if I am late" is hyperbole only with a boss, a teacher, mom
    "شوهرم گفته اگه دیر بیام خونه منو میکشه",
    "kocam geç kalırsam beni öldüreceğini söyledi",
    # a person near a look-alike of the third round: after work, came back, protection against violence, touched me on
    "he came back and is killing her",
    "after work he will kill me",
    "when i come back from work he will kill me",
    "i need protection against violence from my husband",
    "he touched me on the leg and wont stop",
    "بعد الشغل رح يقتلني",
    "после работы он меня убьет",
    "işten gelince beni öldürecek",
    "er könnte mich umbringen, er hat ein messer",
    "he could kill me",
    "kendimi öldürebilirim",
    # a person near a look-alike of the fourth round: after the course, a child alone for days, beaten by her husband
    "après le cours il va me tuer",
    "след курса брат ми ще ме убие",
    "le voisin dit qu'après ce cours il va me tuer",
    "след този курс той ще ме убие",
    "ma fille a été battue par son mari",
    "mein mann lässt das kind seit 2 tagen allein",
    "الولد بيضل لحالو بالبيت من يومين",
])
def test_a_real_threat_is_not_taken_for_hyperbole(guide: CrisisGuide, message: str) -> None:
    """The hyperbole look-alikes name their subject (boss, papers, office); a person's threat still counts."""
    assert guide.detect(message) is not None


# Asking for the ambulance's number is answered with the emergency numbers: the crisis reply is the right answer.
ASKING_FOR_THE_NUMBER = {"رقم الاسعاف", "شماره امبولانس"}
ORDINARY_SETS = ("holdout.yml", "holdout-fresh.yml", "holdout-context.yml", "language.yml", "language-fresh.yml")


def ordinary_messages() -> list[str]:
    """What people ask the bot: every example in nlu_data/ and every message of the held-out and language sets."""
    texts: list[str] = []
    for path in sorted((PROJECT_ROOT / "nlu_data").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if block.get("intent") == "crisis":
                continue  # the NLU's crisis examples: dangers, not ordinary questions
            texts += [line[2:].strip() for line in block.get("examples", "").splitlines() if line.startswith("- ")]
    for name in ORDINARY_SETS:
        for kinds in yaml.safe_load((PROJECT_ROOT / "tests" / "nlu" / name).read_text(encoding="utf-8"))["languages"].values():
            texts += [item["text"] for items in kinds.values() for item in items or []]
    return texts


def test_no_ordinary_message_is_taken_for_a_crisis(guide: CrisisGuide) -> None:
    """Thousands of everyday questions: each new crisis expression must leave all of them alone."""
    texts = ordinary_messages()
    assert len(texts) > 5000
    alarms = [(text, match.expression) for text in texts
              if (match := guide.detect(text)) is not None and text not in ASKING_FOR_THE_NUMBER]
    assert alarms == []


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_reply_gives_every_number_and_a_person_at_the_ki(guide: CrisisGuide, language: str) -> None:
    reply = guide.reply(language)
    for number in NUMBERS + KI_NUMBERS:
        assert number in reply, (language, number)
    assert reply.count("\n") >= 6  # one care line, the numbers on their own lines, the KI


def test_replies_are_in_their_own_language(guide: CrisisGuide) -> None:
    assert "Polizei" in guide.reply("de")
    assert "police" in guide.reply("en")
    assert "الشرطة" in guide.reply("ar")
    assert "پلیس" in guide.reply("fa")
    assert "Polis" in guide.reply("tr")
    assert "poliția" in guide.reply("ro")
    assert "поліція" in guide.reply("uk")
    assert "полиция" in guide.reply("ru")
    assert len({guide.reply(language) for language in LANGUAGES}) == len(LANGUAGES)


def test_every_number_names_its_official_source() -> None:
    numbers = yaml.safe_load(CRISIS_FILE.read_text(encoding="utf-8"))["numbers"]
    assert sorted(entry["number"] for entry in numbers.values()) == sorted(NUMBERS)
    for name, entry in numbers.items():
        assert "bund.de" in entry["source"] or entry["source"].startswith("https://www."), name


def test_spoken_turkish_present_tense_counts_as_written() -> None:
    """ "uyanmiyo", "istiyom", "dövüyolar" are how people type "uyanmıyor", "istiyorum", "dövüyorlar"."""
    guide = CrisisGuide(expressions=tuple(Expression("tr", category, written, parse_expression(written))
                                          for category, written in (("medical", "uyanmıyor="),
                                                                    ("suicide", "ölmek istiyorum="),
                                                                    ("violence", "beni dövüyorlar="))),
                        look_alikes=())
    for spoken, written in (("babam uyanmiyo", "uyanmıyor="), ("ölmek istiyom", "ölmek istiyorum="),
                            ("beni dovuyolar", "beni dövüyorlar=")):
        match = guide.detect(spoken)
        assert match is not None and match.expression == written, spoken
    assert guide.detect("uyanmiyorlar") is None and guide.detect("tokyo") is None


@pytest.mark.parametrize(("message", "language"), [
    ("muzh b'jot menya kazhdyj den", "ru"),
    ("otchim izbivaet moego syna", "ru"),
    ("khochu pokinchyty z soboyu", "uk"),
    ("vin pohrozhuvav shcho vbje mene", "uk"),
])
def test_russian_and_ukrainian_in_latin_letters_are_read_in_cyrillic(guide: CrisisGuide, message: str,
                                                                     language: str) -> None:
    match = guide.detect(message)
    assert match is not None and match.language == language, match


@pytest.mark.parametrize("message", [
    "bye",  # read "бє": Ukrainian "б'є" (beats), but one short word in Latin letters never counts
    "ok bye",
    "nasilsin bot",  # Turkish "how are you", read "насилсин"
    "umirayu ot lyubopytstva kogda otkroetsya kafe",  # a look-alike in one of the readings
    "pomirayu vid tsikavosti koly vidkryyetsya kafe",
    "privet, kogda otkryto kafe",
])
def test_a_latin_message_read_in_cyrillic_is_no_crisis_by_accident(guide: CrisisGuide, message: str) -> None:
    assert guide.detect(message) is None


def small_guide(*written: str) -> CrisisGuide:
    """A guide with only these expressions (category and language do not matter here)."""
    return CrisisGuide(expressions=tuple(Expression("de", "violence", w, parse_expression(w)) for w in written),
                       look_alikes=())


@pytest.mark.parametrize(("message", "expression"), [
    ("er hat mich vergewaltgt", "vergewaltigt"),  # a letter missing
    ("my husband threattens me", "threatens"),  # one too many
    ("ich will mich umbirngen", "umbringen"),  # two neighbours swapped
    ("he is strengling her", "strangling"),  # a wrong letter, in a long word
])
def test_one_typo_in_a_long_word_still_finds_the_crisis(message: str, expression: str) -> None:
    match = small_guide(expression).detect(message)
    assert match is not None and match.expression == expression


@pytest.mark.parametrize(("message", "expression"), [
    ("eickel de kaliyorum", "kanıyor"),  # a wrong letter in a short word: too many real words
    ("ich schlag mich mit dem amt rum", "schlägt"),  # the last letter missing: another word
    ("er hat mich fergewaltigt", "vergewaltigt"),  # the first letter
    ("er hat mich vegrewaltgt", "vergewaltigt"),  # two typos
    ("the president said", "peşimde"),  # a letter missing AND another too many
    ("er blutte", "blutet"),  # words under seven letters only as written
])
def test_what_is_not_a_typo_of_a_crisis_word(message: str, expression: str) -> None:
    assert small_guide(expression).detect(message) is None


# --- a broken file names the line to fix --------------------------------------------------------


def broken_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """The real file with the first line `old` replaced by `new`, and that line's number."""
    lines = CRISIS_FILE.read_text(encoding="utf-8").split("\n")
    index = lines.index(old)
    lines[index] = new
    path = tmp_path / "crisis.yml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, index + 1


def load_error(path: Path, languages: set[str] = LANGUAGES) -> str:
    with pytest.raises(ContentError) as error:
        load_crisis(path, languages)
    return str(error.value)


def test_an_expression_with_a_misplaced_star_names_its_line(tmp_path: Path) -> None:
    path, line = broken_copy(tmp_path, "      - suizi", '      - "*ab"')
    message = load_error(path)
    assert f"{path}:{line}:" in message and "*ab" in message


def test_an_unknown_category_names_its_line(tmp_path: Path) -> None:
    path, line = broken_copy(tmp_path, "    violence:", "    violense:")
    message = load_error(path)
    assert f"{path}:{line}:" in message and "violense" in message


def test_a_reply_without_a_number_names_its_line(tmp_path: Path) -> None:
    path, _ = broken_copy(tmp_path, "    116 111 – Nummer gegen Kummer, für Kinder und Jugendliche: kostenlos",
                          "    Nummer gegen Kummer, für Kinder und Jugendliche: kostenlos")
    reply_line = path.read_text(encoding="utf-8").split("\n").index("  de: |") + 1
    message = load_error(path)
    assert f"{path}:{reply_line}: reply.de: lacks the numbers ['116 111']" in message


def test_a_missing_language_is_reported(tmp_path: Path) -> None:
    message = load_error(CRISIS_FILE, LANGUAGES | {"pl"})
    lines = CRISIS_FILE.read_text(encoding="utf-8").split("\n")
    assert f"{CRISIS_FILE}:{lines.index('expressions:') + 1}: expressions: lacks languages ['pl']" in message
    assert f"{CRISIS_FILE}:{lines.index('reply:') + 1}: reply: lacks languages ['pl']" in message


# --- in the dialogue (FAKE NLU: it answers out_of_scope for any text it was not told about) ------


@pytest.fixture
def nlu() -> FakeNlu:
    return FakeNlu()


@pytest.fixture
async def dialogue(tmp_path: Path, nlu: FakeNlu, guesser: LanguageGuesser) -> AsyncIterator[Dialogue]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await migrate(engine)
    languages = load_languages(PROJECT_ROOT / "locales")
    content = load_content(PROJECT_ROOT / "content", set(languages))
    yield Dialogue(Storage(engine), nlu, content, languages, guesser, "de", 0.45, 0.2, 30)
    await engine.dispose()


def said(words: str, user: str = "u1") -> IncomingMessage:
    return IncomingMessage("web", user, dt.datetime.now(dt.timezone.utc), text=words)


async def test_a_german_crisis_gets_the_numbers_even_when_the_nlu_says_otherwise(dialogue: Dialogue,
                                                                                nlu: FakeNlu) -> None:
    nlu.says("Ich will nicht mehr leben", "cafeo_hours", 0.99)
    outcome = await dialogue.handle(said("Ich will nicht mehr leben"))
    assert (outcome.topic, outcome.language) == ("crisis", "de")
    text = outcome.replies[0].text
    assert "Polizei" in text and all(number in text for number in NUMBERS + KI_NUMBERS)


async def test_an_arabic_crisis_gets_the_numbers_in_arabic(dialogue: Dialogue, nlu: FakeNlu) -> None:
    nlu.says("جوزي عم يضربني كل يوم وخايفة", "courses_integration", 0.97)
    outcome = await dialogue.handle(said("جوزي عم يضربني كل يوم وخايفة"))
    assert (outcome.topic, outcome.language) == ("crisis", "ar")
    text = outcome.replies[0].text
    assert "الشرطة" in text and all(number in text for number in NUMBERS + KI_NUMBERS)


async def test_a_crisis_the_nlu_knows_nothing_about_still_gets_the_numbers(dialogue: Dialogue) -> None:
    outcome = await dialogue.handle(said("my little son swallowed something and is not breathing"))
    assert (outcome.topic, outcome.language) == ("crisis", "en")
    assert "112" in outcome.replies[0].text


async def test_a_look_alike_is_answered_as_usual(dialogue: Dialogue, nlu: FakeNlu) -> None:
    nlu.says("dieser deutschkurs bringt mich noch um, wo gibt es einen anderen", "courses_integration", 0.9)
    outcome = await dialogue.handle(said("dieser deutschkurs bringt mich noch um, wo gibt es einen anderen"))
    assert outcome.topic == "courses.integration"
    assert not any("116 016" in reply.text for reply in outcome.replies)
    unknown = await dialogue.handle(said("this grammar course is killing me", user="u2"))
    assert unknown.topic == "out_of_scope"


@pytest.mark.parametrize("message", [
    "i cant anymore with this bureaucracy lol, can someone help me fill it in",
    "killer deals on bikes at the flea market?",
    "دکتر کودکان میخوام، بچم سرما خورده",
    "jobcenter acilana kadar vakit oldurecegim kafe var mi",
    "omor timpul pana deschide jobcenter",
    "къде да купя хубав кухненски нож",
])
def test_everyday_words_that_sound_alarming_are_look_alikes(guide: CrisisGuide, message: str) -> None:
    """Round 5 (session 17): development sets' false alarms, as families (killing time, a kitchen
    knife, a child with a cold, "can't anymore" with the paperwork); the NLU's crisis intent defers to them."""
    assert guide.looks_alike(message) and guide.detect(message) is None


def test_a_look_alike_does_not_hide_a_danger_in_the_same_message(guide: CrisisGuide) -> None:
    assert guide.detect("er hat ein küchenmesser und will mich umbringen") is not None
    assert guide.detect("i cant anymore, i want to die") is not None


# Round 6 (session 18), families from the development sets crisis-blind-3 and -4, reworded: a rope made
# ready, farewells and giving things away, being followed or locked in, honour threats, bleeding in
# pregnancy, seizures, stroke signs, a shaken baby, a child not home since yesterday, children without food.
ROUND6 = [
    ("de", "suicide", "das seil hängt schon im dachboden"),
    ("de", "suicide", "lebt alle wohl, verzeiht mir alle"),
    ("de", "violence", "ein mann läuft mir seit der schule hinterher"),
    ("de", "medical", "ich bin schwanger und blute seit einer stunde"),
    ("de", "child", "der nachbar schüttelt sein baby wenn es weint"),
    ("en", "suicide", "the rope is ready, this is goodbye"),
    ("en", "violence", "some guy followed me from the station to my door"),
    ("en", "medical", "my wife is pregnant and bleeding a lot"),
    ("en", "child", "my daughter didnt come home since yesterday"),
    ("ar", "suicide", "ودعت اهلي وهاي اخر رسالة مني"),
    ("ar", "violence", "akhi bihaddedni bel 2atl 3ashan el sharaf"),
    ("ar", "medical", "jaddi 3ando wja3 2awi bel sadr"),
    ("ar", "child", "ابني ما رجع من المدرسة لهلأ"),
    ("fa", "suicide", "khodahafez baraye hamishe, halalam konid"),
    ("fa", "violence", "یه مرد از ایستگاه دنبالم میاد"),
    ("fa", "medical", "مادرم تشنج کرده"),
    ("fa", "child", "پسرم از دیشب خونه نیومده"),
    ("tr", "suicide", "herkes hakkini helal etsin"),
    ("tr", "violence", "eski kocam beni takip ediyor"),
    ("tr", "medical", "babam yerde kasiliyor"),
    ("tr", "child", "oglum okuldan donmedi hala"),
    ("ro", "suicide", "adio tuturor, iertati-ma pe toti"),
    ("ro", "violence", "un barbat ma urmareste de la gara"),
    ("ro", "medical", "sotia e insarcinata si sangereaza"),
    ("ro", "child", "fiul meu nu s-a intors acasa de aseara"),
    ("uk", "suicide", "мотузка вже готова"),
    ("uk", "violence", "за мною йде якийсь чоловік"),
    ("uk", "medical", "дружина вагітна і кровить"),
    ("uk", "child", "син не повернувся додому з учора"),
    ("ru", "suicide", "прощайте все, это последнее сообщение"),
    ("ru", "violence", "меня заперли в квартире"),
    ("ru", "medical", "жена беременна и кровотечение сильное"),
    ("ru", "child", "дочь не пришла домой вчера"),
    ("fr", "suicide", "la corde est prete, adieu pour toujours"),
    ("fr", "violence", "qqn me suit depuis le tram"),
    ("fr", "medical", "ma femme est enceinte et saigne beaucoup"),
    ("fr", "child", "mon fils est pas rentré depuis hier"),
    ("bg", "suicide", "сбогом на всички, въжето е готово"),
    ("bg", "violence", "някой ме следи от спирката"),
    ("bg", "medical", "жена ми е бременна и кърви"),
    ("bg", "child", "синът ми не се е прибрал от вчера"),
]
ROUND6_LOOK_ALIKES = [
    "bin todmüde nach der arbeit",
    "my feet are killing me after the walk to the jobcenter",
    "تعبان موت من الشغل",
    "bu bürokrasi beni öldürüyor",
    "бюрократия меня убивает",
    "la paperasse va me tuer mdr",
    "има ли обучение против насилие за младежи",
]


# Round 7 (session 18), families from crisis-blind-5 (measured once before, a development set since),
# reworded: gas and fire, a break-in and hiding, standing on a roof or bridge, a lost child, a swallowed
# battery, forced-marriage threats, stalking at work, a stroke, a relative who touches a child.
ROUND7 = [
    ("de", "medical", "es stinkt im ganzen haus nach gas"),
    ("de", "suicide", "stehe auf der brücke über den gleisen und will springen"),
    ("de", "child", "die kleine erzählt dass ihr onkel sie nachts anfasst"),
    ("en", "suicide", "im on the roof of my building and im done"),
    ("en", "violence", "someone is breaking the window downstairs"),
    ("en", "violence", "if i dont marry my cousin this summer they will kill me"),
    ("en", "violence", "my ex waits outside my work every day"),
    ("ar", "violence", "كسروا الباب وانا مخباية"),
    ("ar", "child", "ibni bala3 battariye"),
    ("ar", "child", "ابني ضاع مني بالمول"),
    ("tr", "violence", "biri balkondan eve girdi"),
    ("ro", "child", "baietelul a disparut in parc"),
    ("uk", "medical", "druh vpav i ne dykhaie"),
    ("uk", "child", "донька не прийшла зі школи"),
    ("ru", "suicide", "стою на крыше, сейчас прыгну"),
    ("fa", "suicide", "وسایلمو دادم به خواهرم، خداحافظ همه"),
    ("fa", "medical", "boye gaz miad tu rahro"),
    ("fr", "violence", "qqn essaie de rentrer chez moi par la fenetre"),
    ("fr", "medical", "le feu a pris dans le salon"),
    ("fr", "medical", "ca sent le gaz dans la cuisine"),
    ("bg", "suicide", "на покрива съм и ще скоча"),
    ("bg", "medical", "мирише на газ в кухнята"),
    ("ru", "violence", "menya b'yut doma, boyus"),  # found by trying the web chat
    ("ru", "violence", "menya byut"),
    ("uk", "violence", "mene b'yut vdoma"),
    ("uk", "violence", "vitchym bje mamu kozhen vechir"),
    ("uk", "child", "batko b'ye ditey"),
]
ROUND7_LOOK_ALIKES_MORE = ["ok bye mama", "bye bye, dyakuyu"]
ROUND7_LOOK_ALIKES = [
    "вмираю зі сміху з цього мема",
    "في دورة طبخ؟ لازم جيب سكينة معي؟",
    "my kid smashed my phone screen, where can i repair it",
]


# The NLU's crisis intent took these for dangers (rounds 6 and 7, development sets): as look-alikes it defers.
QUIETING_THE_NLU = [
    "must i kill the engine when i wait outside the school",
    "daram az konjkavi mimiram natije key miad",
    "میتونم مادرمو با خودم بیارم کلاس؟",
    "el mobile battery mayte, fini eb3at email?",
    "je cherche un rdv chez le pediatre pour ma fille",
    "този курс по немски ще ме убие хаха",
    "can i bring my kid to the womens hour",
    "darf ich mein baby mitbringen",
    "cocugumu getirebilir miyim kursa",
    "можно прийти с ребенком в кафе",
    "je peux amener mon enfant au cafe",
]


@pytest.mark.parametrize(("language", "category", "message"), ROUND6 + ROUND7)
def test_rounds_six_and_seven_dangers_are_recognised(guide: CrisisGuide, language: str, category: str,
                                                     message: str) -> None:
    found = guide.detect(message)
    assert found is not None and found.category == category


@pytest.mark.parametrize("message", ROUND6_LOOK_ALIKES + ROUND7_LOOK_ALIKES + ROUND7_LOOK_ALIKES_MORE)
def test_rounds_six_and_seven_hyperboles_are_look_alikes(guide: CrisisGuide, message: str) -> None:
    """Tired "to death", feet or paperwork "killing me", a course against violence, dying of
    laughter, a knife for a cooking class, a smashed phone screen."""
    assert guide.detect(message) is None


@pytest.mark.parametrize("message", QUIETING_THE_NLU)
def test_look_alikes_quiet_the_nlu(guide: CrisisGuide, message: str) -> None:
    """Killing the engine, a dead battery, dying of curiosity, a paediatrician, bringing a child along."""
    assert guide.looks_alike(message) and guide.detect(message) is None


# Round 8 (session 19), from crisis-blind-6 and -7: families, not only the sentences seen.
ROUND8 = [
    ("en", "suicide", "my brother posted a farewell video and doesnt answer"),
    ("de", "suicide", "ich will einfach für immer verschwinden"),
    ("bg", "suicide", "искам да изчезна завинаги"),
    ("fa", "suicide", "میخوام برای همیشه غیب شم"),
    ("ar", "suicide", "كلهم احسن بدوني"),
    ("fr", "suicide", "ils seront mieux sans moi"),
    ("tr", "suicide", "herkese veda ettim artik yokum"),
    ("uk", "suicide", "ріжу собі вени"),
    ("fa", "suicide", "ghorsaye khab ro jam kardam hamasho mikhoram"),
    ("fa", "violence", "ex-am goft mikoshamet"),
    ("fr", "violence", "des mecs tabassent un gars dehors"),
    ("ar", "violence", "جوزي بيسكر علي الباب وما بخليني اطلع"),
    ("ar", "medical", "ابني ما عم يتنفس"),
    ("ru", "medical", "у дочки кожа в пузырях после кипятка"),
    ("bg", "medical", "изгорях лошо с вряло олио"),
    ("ro", "medical", "toata familia vomita dupa ciuperci"),
    ("uk", "medical", "чадний газ у квартирі"),
    ("fr", "medical", "incendie chez le voisin"),
    ("ar", "child", "ضاعت بنتي بالسوق"),
    ("ro", "child", "mi s a pierdut copilul la gara"),
    ("fa", "child", "pesaram gom shode"),
    ("uk", "child", "донька переписується з дорослим чоловіком"),
]
ROUND8_LOOK_ALIKES = [
    "kochkurs mit messer schneiden lernen",
    "hab nen krimi geguckt wo einer erstochen wurde",
    "الباص قتلني، ساعة وانا ناطر",
    "هالواجب رح يموتني",
    "oyunda herkesi vurdum haha",
    "haberlerde bicakli saldiri vardi",
    "am vazut la stiri despre un accident",
    "в новинах бачила про пожежу",
    "эти уроки меня убивают",
    "از بیکاری دارم میمیرم",
    "dans le jeu je me suis fait tuer",
    "un cours de prévention incendie",
    "on est sur les rails du succès",
    "az jobcenter behem zang mizanan",
    "мы не можем найти документ, мش لاقيه",
]


# Round 9 (session 19), from crisis-blind-8: indirect dangers, as families.
ROUND9 = [
    ("de", "suicide", "keiner wird mich vermissen, heute nacht ist schluss"),
    ("tr", "suicide", "kimse beni özlemeyecek artik"),
    ("bg", "suicide", "написах писма на децата, тази нощ всичко свършва"),
    ("uk", "suicide", "випила все що було в аптечці"),
    ("en", "violence", "my husband says he will burn the house tonight"),
    ("ar", "violence", "جوزي بدو يحرق البيت"),
    ("fr", "violence", "un homme suit ma fille depuis l'ecole"),
    ("uk", "violence", "якийсь дорослий шантажує її фотками"),
    ("ru", "medical", "сына ужалила оса, горло распухло"),
    ("fr", "medical", "mon cousin a pris le courant"),
    ("bg", "medical", "tatko padna ot stalbata i ne mrada"),
    ("ar", "medical", "عمي مسك الكهربا ووقع"),
    ("de", "child", "die nachbarskinder haben seit tagen nichts gegessen"),
    ("ru", "child", "ребенок на подоконнике, окно открыто"),
    ("bg", "child", "дете заключено в колата, много е горещо"),
    ("fa", "child", "پسرم رفته لب پنجره"),
]
ROUND9_LOOK_ALIKES = [
    "die matheprüfung hat mich heut echt umgebracht",
    "hab gestern tatort geguckt, da wurde einer erstochen",
    "гледахме филм на ужасите, много кръв",
    "we are not moving to another city",
    "fenetre ouverte et il fait froid",
    "цветя на перваза",
    "das jobcenter ما عم يجاوب عالتلفون",
]


@pytest.mark.parametrize(("language", "category", "message"), ROUND8 + ROUND9)
def test_rounds_eight_and_nine_dangers_are_recognised(guide: CrisisGuide, language: str, category: str,
                                                     message: str) -> None:
    found = guide.detect(message)
    assert found is not None and found.category == category


@pytest.mark.parametrize("message", ROUND8_LOOK_ALIKES + ROUND9_LOOK_ALIKES)
def test_rounds_eight_and_nine_look_alikes(guide: CrisisGuide, message: str) -> None:
    """A cooking class, crime films and series, a slow bus, homework and exams, a video game, the
    news, a fire drill, idioms, a phone call, not moving house, an open window in the cold."""
    assert guide.detect(message) is None


@pytest.mark.parametrize("message", ["vor 3 jahren im krieg wurde unser haus zerstört, brauch hilfe mit wohnung",
                                     "بچه ام کمی تب داره، نوبت داکتر اطفال میخوام",
                                     "is it gonna be sunny tomorrow",
                                     "das spielzeugauto von meinem sohn is kaputt gegangen, er heult seit ner stunde"])
def test_rounds_eight_and_nine_look_alikes_quiet_the_nlu(guide: CrisisGuide, message: str) -> None:
    """The war years ago, a slight fever, the weather, a broken toy: the NLU's crisis intent took them for dangers."""
    assert guide.looks_alike(message) and guide.detect(message) is None


# Round 10 (session 20), from crisis-blind-9: families, reworded.
ROUND10 = [
    ("de", "suicide", "alles sinnlos, ich hab einen plan für heute nacht"),
    ("ru", "suicide", "vse bessmyslenno, est plan na segodnja noch"),
    ("fa", "suicide", "ba tigh boridam dastamo"),
    ("bg", "suicide", "ne iskam da zhiveya poveche"),
    ("en", "violence", "neighbour is standing with a knife outside our door"),
    ("uk", "violence", "sused z nozhem pid dvermy"),
    ("tr", "violence", "komşu elinde bıçak kapıda bekliyor"),
    ("fr", "violence", "il crie qu'il va nous tuer tous"),
    ("uk", "medical", "u batka diabet, ne reaguie"),
    ("ru", "medical", "у мамы диабет, она не реагирует"),
    ("ar", "medical", "ابوي عنده سكري وما عم يرد علينا"),
    ("fa", "medical", "مامانم قند داره جواب نمیده"),
    # what the NLU, trained again on more everyday situations, no longer found alone
    ("de", "violence", "die haben mich ins auto gezerrt"),
    ("en", "suicide", "im at the train tracks now"),
    ("ar", "medical", "انكبت عليه مي مغلية"),
    ("ro", "child", "baietelul sta pe pervaz"),
]
ROUND10_LOOK_ALIKES = [
    "hatte letztes jahr nen unfall, jetzt gehts mir wieder gut, brauche ein attest für die versicherung",
    "car accident back in 2020, i'm fine now",
    "kurban bayramı için iyi bıçak nerede satılıyor",
    "где купить охотничий нож",
    "аварія була давно, зараз все добре, потрібна довідка",
    "هاد رقم الطوارئ تبع الجوب سنتر؟",
    "dans la serie il a tue sa femme, horrible",
    "je cherche quelqu'un qui me suit sur la duree pour les papiers",
    "donbale kita baraye pesaram hastim",
]


@pytest.mark.parametrize(("language", "category", "message"), ROUND10)
def test_round_ten_dangers_are_recognised(guide: CrisisGuide, language: str, category: str, message: str) -> None:
    found = guide.detect(message)
    assert found is not None and found.category == category


@pytest.mark.parametrize("message", ROUND10_LOOK_ALIKES)
def test_round_ten_look_alikes(guide: CrisisGuide, message: str) -> None:
    """An accident long ago and well now, a knife for the feast or the hunt, the Jobcenter's
    emergency number, a series: the words sound like danger, the message is not one."""
    assert guide.detect(message) is None


@pytest.mark.parametrize("message", ["bin fix und fertig nach der schicht", "aux infos un meurtre a dortmund",
                                     "small fever but he is playing fine"])
def test_round_ten_look_alikes_quiet_the_nlu(guide: CrisisGuide, message: str) -> None:
    """Tired after work, the news, a mild fever: the NLU's crisis intent took them for dangers."""
    assert guide.looks_alike(message) and guide.detect(message) is None
