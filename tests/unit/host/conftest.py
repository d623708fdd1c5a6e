from tests.unit.host.fakes import fresh_loop

__all__ = ["fresh_loop"]
