"""The audit records still queued in the kernel (crash's dump_audit, `log -a`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from crashpy.errors import CommandError
from crashpy.helpers.printk_access import ProgramLike, need, read_bytes, read_int, type_offset, type_size


@dataclass(frozen=True)
class AuditRecord:
    queue: str  # the sk_buff_head symbol it was queued on
    type: int  # nlmsghdr.nlmsg_type
    text: bytes  # the message after the netlink header, up to its first NUL


AUDIT_QUEUES_OLD = ("audit_skb_hold_queue", "audit_skb_queue")  # before 4.11
AUDIT_QUEUES = ("audit_hold_queue", "audit_retry_queue", "audit_queue")
NLMSG_ALIGNTO = 4


def audit_queue_names(prog: ProgramLike) -> tuple[str, ...] | None:
    """The kernel's audit sk_buff queues in the order crash dumps them, or None (no audit)."""
    names: tuple[str, ...]
    if prog.has_symbol("audit_skb_queue"):
        names = AUDIT_QUEUES_OLD
    elif prog.has_symbol("audit_queue"):
        names = AUDIT_QUEUES
    else:
        return None
    return tuple(n for n in names if prog.has_symbol(n))


def iter_audit_records(prog: ProgramLike, queue: str) -> Iterator[AuditRecord]:
    """The records on one audit queue (struct sk_buff_head), head to tail. A read that fails
    raises FaultError after the records before it were yielded, as crash stops there."""

    def off(struct: str, member: str) -> int:
        return need(type_offset(prog, struct, member), f"offsetof({struct}, {member})")

    head = prog.symbol_address(queue)
    qlen = read_int(prog, head + off("sk_buff_head", "qlen"), 4, "audit_skb_queue.qlen")
    if not qlen:
        return
    nlmsghdr = need(type_size(prog, "nlmsghdr"), "sizeof(struct nlmsghdr)")
    hdr = (nlmsghdr + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1)  # NLMSG_DATA()
    type_off = off("nlmsghdr", "nlmsg_type")
    skb_len, skb_data, skb_next = off("sk_buff", "len"), off("sk_buff", "data"), off("sk_buff", "next")
    p = read_int(prog, head + off("sk_buff_head", "next"), 8, "audit_skb_queue.next")
    if not p:
        raise CommandError("audit_skb_queue.next: NULL")
    seen: set[int] = set()
    while True:
        if p in seen:  # a loop that does not come back to the head
            return
        seen.add(p)
        length = read_int(prog, p + skb_len, 4, "sk_buff.len")
        data_len = (length - hdr) & 0xFFFFFFFF
        data = read_int(prog, p + skb_data, 8, "sk_buff.data")
        if not data:
            raise CommandError("sk_buff.data: NULL")
        nlmsg_type = read_int(prog, data + type_off, 2, "nlmsghdr.nlmsg_type")
        if data_len > (1 << 20):  # a corrupt length: crash would try to allocate it
            data_len = 0
        raw = read_bytes(prog, data + hdr, data_len, "sk_buff.data + sizeof(struct nlmsghdr)")
        nul = raw.find(b"\0")
        yield AuditRecord(queue, nlmsg_type, raw if nul < 0 else raw[:nul])
        p = read_int(prog, p + skb_next, 8, "skb_buff.next")
        if p == head:
            return
