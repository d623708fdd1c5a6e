"""URLs never show their credentials."""

from __future__ import annotations

from ground.secret import Secret, redact_url, split_userinfo


def test_redact_url() -> None:
    assert redact_url("https://u:p@h:9200/x?q=1") == "https://***@h:9200/x?q=1"
    assert redact_url("https://h:9200") == "https://h:9200"
    assert redact_url("http://u@[::1]:9200") == "http://***@[::1]:9200"
    assert "p4ss" not in redact_url("http://u:p4ss@h:notaport")


def test_split_userinfo_decodes_and_removes_them() -> None:
    url, user, password = split_userinfo("https://wr%3Aiter:p%40ss@h:9243/")
    assert (url, user, password) == ("https://h:9243/", "wr:iter", Secret("p@ss"))
    assert split_userinfo("https://h") == ("https://h", None, None)
