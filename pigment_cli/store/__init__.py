"""The store: its file, schema migrations, transactions, the lock, the erasure journal, the audit
chain, and the `Session` every domain call runs in. Nothing here knows about subjects or rights."""
