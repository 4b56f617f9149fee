"""Redis and everything kept in it: the connection (embedded or shared), the key schema, and
each Redis-backed store and index. The bottom layer: it imports no role, platform or CLI."""
