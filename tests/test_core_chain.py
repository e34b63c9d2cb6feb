"""The parts of ``Router`` form one chain, and every call the base declares is implemented.

``router._base.RouterBase`` declares abstract the methods one part calls on another
further down the chain; this walks the base's source for those declarations and checks
that a part of ``Router`` defines each.
"""

from __future__ import annotations

import ast
from pathlib import Path

from router._base import RouterBase
from router.core import Router


def _declared() -> list[str]:
    tree = ast.parse((Path(__file__).resolve().parent.parent / "router/_base.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RouterBase"]
    names = []
    for node in cls.body:
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "abstractmethod" for d in node.decorator_list
        ):
            names.append(node.name)
    return names


def test_every_declared_call_is_implemented_by_a_part() -> None:
    names = _declared()
    assert len(names) == 25
    parts = Router.__mro__[: Router.__mro__.index(RouterBase)]
    missing = [n for n in names if not any(n in vars(k) for k in parts)]
    assert missing == []


def test_the_parts_form_one_chain_of_single_inheritance() -> None:
    chain = [k.__module__ + "." + k.__name__ for k in Router.__mro__]
    assert chain == [
        "router.core.Router",
        "router._contacts.ContactsMixin",
        "router._offers.OffersMixin",
        "router._agents.AgentsMixin",
        "router._dispatch.DispatchMixin",
        "router._handover.HandoverMixin",
        "router._escalations.EscalationsMixin",
        "router._observe.ObserveMixin",
        "router._members.MembersMixin",
        "router._registrations.RegistrationsMixin",
        "router._base.RouterBase",
        "builtins.object",
    ]
    assert all(len(k.__bases__) == 1 for k in Router.__mro__[:-1])
