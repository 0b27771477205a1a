"""The compact history notation of the tests (``tests/compact.py``): suffixes, pairs, finals."""

from __future__ import annotations

from tests.compact import history, timed


def test_suffixes_name_the_node_mark_a_final_read_and_add_registered_fields() -> None:
    h = timed("0 1 invoke read x", "0.5 1 ok read x [1, 2] #final ts=7 @n2",
              fields={"ts": lambda t: {"timestamp_us": int(t)}})
    read = h.ops[1]
    assert (read.key, read.value, read.node, read.time) == ("x", [1, 2], "n2", 500_000_000)
    assert read.extra == {"final": True, "timestamp_us": 7}
    assert h.ops[0].node is None and h.ops[0].extra is None


def test_an_unregistered_field_and_the_event_itself_are_never_suffixes() -> None:
    h = history('1 ok write x "a=1"', "1 ok read @n1", "1 ok write k=v", "1 ok read a=1",
                fields={"ts": lambda t: {"ts": t}})
    assert (h.ops[0].key, h.ops[0].value) == ("x", "a=1")
    assert (h.ops[1].f, h.ops[1].key, h.ops[1].node) == ("read", None, "n1")
    assert h.ops[2].key == "k=v" and h.ops[2].extra is None  # not registered: the key
    assert h.ops[3].key == "a=1" and h.ops[3].extra is None


def test_a_pair_puts_its_fields_and_a_final_process_marks_its_operations() -> None:
    h = timed("0 1 invoke write x 1", ("1 1 ok write x 1", {"version": 1}),
              "2 9 invoke read x", "3 9 ok read x 1 @n1", final_process=9)
    assert h.ops[1].extra == {"version": 1}
    assert [op.get("final") for op in h.ops] == [None, None, True, True]
    assert h.ops[3].node == "n1"
