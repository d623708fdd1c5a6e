"""KDA SQL applications: parse → plan → compile → run on the Shardline runtime."""
