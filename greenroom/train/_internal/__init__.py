"""Train's internals: the pure cores (``rounds``, ``shards``) and the shell that carries them out
(``controller``, ``worker_group``, ``worker``, ``storage``)."""
