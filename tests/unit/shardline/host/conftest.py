from tests.unit.shardline.host.fakes import fresh_loop, settings

__all__ = ["fresh_loop", "settings"]
