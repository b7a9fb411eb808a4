"""What every Anchor program does around its handler."""

from idl import Idl, pascal_case
from runtime import Instruction, Invocation, Step


def anchor_instruction(idl: Idl, name: str, args: dict, accounts: dict) -> Instruction:
    metas = idl.account_metas(name, accounts)
    return Instruction(idl.address, metas, idl.encode_instruction(name, args))


def anchor_step(idl: Idl, name: str, args: dict, accounts: dict, units: int, handler) -> Step:
    """A top-level instruction to an Anchor program: the dispatcher logs "Instruction: <Name>"
    before the handler runs."""
    def body(inv: Invocation) -> None:
        inv.log(f"Instruction: {pascal_case(name)}")
        handler(inv)
    return Step(anchor_instruction(idl, name, args, accounts), units, body)
