"""Channel adapters: each parses its platform's requests into IncomingMessages and sends Replies."""
