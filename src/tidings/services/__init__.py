"""Use cases. Plain functions over a :class:`~tidings.db.database.Database`; each one
validates its input, runs in one transaction and either applies fully or not at all."""
