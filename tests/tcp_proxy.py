"""A TCP proxy on loopback between the application and its database, which a test cuts and restores.

Cut: every open connection is aborted and new ones are refused (the port is closed), as when
the database server goes away or the network to it breaks. Restore: connections pass again.
"""

import asyncio
from contextlib import suppress


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` while it is up."""

    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted since the start, for the test to see traffic went through

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._pipes |= {client_writer, server_writer}
        await asyncio.gather(self._pump(client_reader, server_writer), self._pump(server_reader, client_writer))
        self._pipes -= {client_writer, server_writer}

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with suppress(Exception):
                writer.transport.abort() if reader.at_eof() is False else writer.close()
