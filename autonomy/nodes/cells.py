"""Local dispatch: the cells that sit at a node's addresses.

A :class:`WorkerCell` owns one worker. It queues messages and runs ``handle_message`` for one message
at a time. An idle cell has no task and no queue, so a node can hold 100,000 idle workers cheaply; a
task is created when a message arrives at an idle cell and ends when its queue is empty.

A :class:`MailboxCell` buffers what arrives at a mailbox's address until ``receive`` takes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import autonomy.tracing as tracing
from autonomy.errors import WorkerError, WorkerStopped

if TYPE_CHECKING:
    from autonomy.nodes.protocol import ReplyTo, Worker

__all__ = ["WorkerCell", "MailboxCell", "FutureReply", "WorkerContext"]

logger = logging.getLogger("autonomy.nodes")


class FutureReply:
    """Replies for ``send_and_receive``: the first reply (or failure) resolves the future; later ones drop."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[str]) -> None:
        self.future = future

    async def reply(self, message: str) -> None:
        if not self.future.done():
            self.future.set_result(message)

    async def fail(self, error: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class WorkerContext:
    """The context a worker gets with each message: ``await context.reply(text)``."""

    __slots__ = ("node", "address", "_reply_to")

    def __init__(self, node: Any, address: str, reply_to: ReplyTo | None) -> None:
        self.node = node
        self.address = address
        self._reply_to = reply_to

    @property
    def reply_to(self) -> ReplyTo | None:
        """Where this message's replies go (None when the sender expects none)."""
        return self._reply_to

    async def reply(self, message: str) -> None:
        """Send ``message`` to the sender. Callable any number of times; replies arrive in order."""
        if self._reply_to is not None:
            await self._reply_to.reply(message)
        else:
            logger.debug("reply from %r dropped: the message had no sender to reply to", self.address)


class WorkerCell:
    """One worker at one address: a queue that exists only while messages are pending."""

    __slots__ = ("address", "worker", "node", "_options", "_queue", "_task", "_stopped")

    def __init__(self, node: Any, address: str, worker: Worker, internal: bool = False,
                 exposed_as: str | None = None) -> None:
        self.node = node
        self.address = address
        self.worker = worker
        # (internal, exposed_as), None for the common case: one slot, not two, per idle worker
        self._options = (internal, exposed_as) if internal or exposed_as else None
        self._queue: deque[tuple[str, ReplyTo | None, Any]] | None = None  # + the sender's trace context
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def internal(self) -> bool:
        """Hidden from ``list_workers``."""
        return self._options is not None and self._options[0]

    @property
    def exposed_as(self) -> str | None:
        return self._options[1] if self._options is not None else None

    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def queued(self) -> int:
        """How many messages wait behind the one being handled."""
        return len(self._queue) if self._queue else 0

    def deliver(self, message: str, reply_to: ReplyTo | None) -> None:
        """Queue ``message``; never blocks. Raises WorkerStopped after ``stop``."""
        if self._stopped:
            raise WorkerStopped(self.address)
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        queue.append((message, reply_to, tracing.capture() if tracing.ON else None))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        queue = self._queue
        assert queue is not None
        node, address, handle = self.node, self.address, self.worker.handle_message
        try:
            while True:
                if not queue:
                    # Stay one loop turn when that pays off on this node (autonomy/nodes/linger.py):
                    # a sequential sender then hands its next message to this task instead of a new
                    # one per message. An idle cell still ends up with no task.
                    linger = node._linger
                    if not linger.worth_it():
                        break
                    await asyncio.sleep(0)
                    linger.record(bool(queue))
                    if not queue:
                        break
                message, reply_to, traced = queue.popleft()
                try:
                    if traced is None:
                        await handle(WorkerContext(node, address, reply_to), message)
                    else:  # a traced sender: this message's handling is a span of its trace
                        with tracing.attached(traced), tracing.span("worker.handle", {
                                "autonomy.worker": address, "autonomy.node": getattr(node, "name", None)}):
                            await handle(WorkerContext(node, address, reply_to), message)
                except asyncio.CancelledError:
                    if reply_to is not None:
                        await reply_to.fail(WorkerStopped(address))
                    raise
                except Exception as exc:  # the worker lives on; the sender learns of the failure
                    logger.exception("worker %r failed while handling a message", address)
                    if reply_to is not None:
                        await reply_to.fail(WorkerError(address, f"{type(exc).__name__}: {exc}"))
        finally:
            self._task = None
            if not queue:
                self._queue = None

    async def stop(self) -> None:
        """Stop: cancel the message in progress and fail every queued one with WorkerStopped."""
        self._stopped = True
        task, self._task = self._task, None
        pending, self._queue = self._queue, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while pending:
            _, reply_to, _ = pending.popleft()
            if reply_to is not None:
                await reply_to.fail(WorkerStopped(self.address))


class MailboxCell:
    """What arrives at a mailbox's address, waiting to be received. Also a ReplyTo for its own sends."""

    __slots__ = ("address", "_items", "_waiter", "__weakref__")

    def __init__(self, address: str) -> None:
        self.address = address
        self._items: deque[str | Exception] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def deliver(self, message: str, reply_to: ReplyTo | None) -> None:
        self._push(message)

    async def reply(self, message: str) -> None:
        self._push(message)

    async def fail(self, error: Exception) -> None:
        self._push(error)

    def fail_nowait(self, error: Exception) -> None:
        """Like :meth:`fail`, from synchronous code (the transport, when the other node leaves)."""
        self._push(error)

    def _push(self, item: str | Exception) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, timeout: float | None = None) -> str:
        """The next message, in arrival order. Raises the sender's error if one came instead."""
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    async with asyncio.timeout(timeout):
                        await waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if isinstance(item, Exception):
            raise item
        return item
