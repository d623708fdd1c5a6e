"""The chaos soak: the whole pipeline under a steady producer and random combined faults.

``make soak`` (``SOAK_MINUTES``, ``SOAK_SEED``, ``SOAK_BROKERS``) or
``python -m tests.soak --minutes 60 --seed 7 [--brokers 3]``. See ``docs/faults.md``.
Modules: ``schedule`` (the seeded plan), ``servers`` (private Kafka and MinIO), ``supervisor``
(worker processes and their RSS), ``chaos`` (inject and heal), ``monitor`` (progress and
recovery), ``oracle`` (the verdict), ``stats`` and ``report``, ``run`` (one soak).
"""
