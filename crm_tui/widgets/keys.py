"""Keys typed in a burst land where they were meant to go (an App mixin).

Over SSH, keys arrive many at once. Textual hands each key to the focused widget as soon as it
reads it, but a key that is a binding (Tab, `n`, Enter in a form) acts only once it has bubbled
back up to the app: by then the keys after it were handed to the widget that had the focus
before. `Ann` Tab `Lee` gave the first name "AnnLee"; `n` then a name typed the name into the list
behind the new form, whose fields had no focus yet.

So the keys wait in line: a key is handed on once the one before it has been handled all the
way up (each node it bubbles through has taken it), and once a screen new on top has handled what
it was sent as it opened (its focus is set then). A key that opens a form after a read says so
(`hold_keys()`): the keys after it wait for the form. Nothing is dropped.

A wait ends early only when what it waits on is stuck: WAIT_S in which the node waited on (or the
worker a hold waits for) made no progress. A slow machine is not a stuck one: while the node works
through its queue, a worker runs, or the app is too busy to look on time, the wait goes on. (A
wall-clock limit handed keys on mid-burst on a loaded machine: a Tab that took longer than it to
move the focus sent the next letters to the field it left.)
"""

from __future__ import annotations

from collections import deque
from functools import partial
from time import monotonic

from textual import events
from textual.dom import DOMNode

from crm_tui.compat import is_exiting

WAIT_S = 2.0  # how long a wait may see no progress before the keys go on (see the module's note)
STEP_S = 0.05  # how often a wait looks for progress


class KeysInOrder:
    """App mixin: one key at a time, each to the widget that has the focus once the previous key
    is done (see the module's note)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._keys_waiting: deque[events.Key] = deque()
        self._key_turn = 0  # counts the keys handed on (and the screens waited for)
        self._key_busy: int | None = None  # the turn on its way: a key, or a screen getting ready
        self._key_at: tuple[DOMNode, list[DOMNode]] | None = None  # the node waited on, and the rest
        self._keys_screen: object | None = None  # the screen that took the last key
        self._keys_held: tuple[object, float, float] | None = None  # (screen, moved, looked): keys wait for
        # a screen to open over this one
        self._key_watch: tuple[DOMNode | None, int, float, float] | None = None  # (node, queue, looked, moved)

    @property
    def keys_pending(self) -> int:
        """Keys read but not yet handled (one on its way counts): 0 once a burst has landed."""
        return len(self._keys_waiting) + (self._key_busy is not None)

    def hold_keys(self) -> None:
        """The key just handled opens a screen once a worker has read what it shows (an edit form
        reads the record first): the keys after it wait for that screen (while the screen's worker
        runs, and WAIT_S after)."""
        now = monotonic()
        self._keys_held = (self.screen, now, now)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._keys_waiting.append(event)
            await self._next_key()
            return
        await super().on_event(event)

    # --- one key at a time -------------------------------------------------------------------

    def _begin_turn(self) -> int:
        self._key_turn += 1
        self._key_busy = self._key_turn
        now = monotonic()
        self._key_watch = (None, 0, now, now)
        self.set_timer(STEP_S, partial(self._watch, self._key_turn))
        return self._key_turn

    def _waiting_on(self, node: DOMNode) -> None:
        """The turn now waits for `node` to reach the callback queued on it."""
        now = monotonic()
        self._key_watch = (node, node.message_queue_size, now, now)

    async def _watch(self, turn: int) -> None:
        """Every STEP_S while a turn is on its way: it has moved on if the node waited on handled
        something (its queue got shorter) or the app looked late (it was busy, or the machine is
        loaded). WAIT_S without either: the node is stuck, and the next key goes on."""
        if turn != self._key_busy or self._key_watch is None:
            return
        node, queued, looked, moved = self._key_watch
        now = monotonic()
        size = node.message_queue_size if node is not None else 0
        if size < queued or now - looked > 2 * STEP_S:
            moved = now
        self._key_watch = (node, size, now, moved)
        if now - moved >= WAIT_S:
            await self._key_done(turn)
        else:
            self.set_timer(STEP_S, partial(self._watch, turn))

    async def _next_key(self) -> None:
        """Hand on the next key waiting, unless one is on its way. A screen new on top first
        handles what it was sent when it opened (its focus is set then): the key waits for it."""
        if self._key_busy is not None or not self._keys_waiting:
            return
        if is_exiting(self) or not self.is_running:  # quitting: no screen is there to take them
            self._keys_waiting.clear()
            return
        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - no screen yet (the app is starting): look again soon
            self._key_busy = -1
            self.set_timer(0.02, self._held_check)
            return
        if self._keys_held is not None and self._still_held(screen):
            self._key_busy = -1  # looked at again in a moment
            self.set_timer(0.02, self._held_check)
            return
        if screen is not self._keys_screen:
            turn = self._begin_turn()
            if screen.call_later(self._screen_ready, screen, turn):
                self._waiting_on(screen)
                return
            self._key_busy = None
        self._keys_screen = screen
        key = self._keys_waiting.popleft()
        turn = self._begin_turn()
        target = self.focused or screen
        await super().on_event(key)  # a priority binding, or handed to the focused widget
        chain: list[DOMNode] = []
        node: DOMNode | None = target
        while node is not None and node is not self:
            chain.append(node)
            node = node.parent
        self._follow(chain, turn)

    def _still_held(self, screen) -> bool:
        """The keys still wait for the screen a key is opening: the screen it opens over is still
        on top, and the worker reading what it shows runs, or stopped less than WAIT_S ago (the
        app looking late counts as running: the machine is busy)."""
        held_on, moved, looked = self._keys_held
        if screen is not held_on:
            self._keys_held = None
            return False
        now = monotonic()
        if now - looked > 2 * STEP_S or any(w.node is held_on and not w.is_finished for w in self.workers):
            moved = now
        self._keys_held = (held_on, moved, now)
        if now - moved < WAIT_S:
            return True
        self._keys_held = None
        return False

    async def _held_check(self) -> None:
        if self._key_busy == -1:
            self._key_busy = None
            await self._next_key()

    def _screen_ready(self, screen, turn: int) -> None:
        """Run by the new screen once it has handled what it was sent as it opened; the keys go
        on from the app's own queue."""
        if turn == self._key_busy:
            self._keys_screen = screen
            self.call_later(self._key_done, turn)

    def _follow(self, chain: list[DOMNode], turn: int) -> None:
        """Wait until each node of `chain` (the target, then its parents) has handled what came
        before (the key, and the key bubbled up to it), then the app; then the next key."""
        if turn != self._key_busy:
            return
        if not chain:
            self._key_at = None
            self.call_later(self._key_done, turn)  # after the key, bubbled up to the app, is handled
            self._waiting_on(self)
            return
        node, rest = chain[0], chain[1:]
        # a callback queued behind what the node has in hand (the key, or the key bubbled to it)
        if node.is_attached and node.call_later(self._follow, rest, turn):
            self._key_at = (node, rest)
            self._waiting_on(node)
            self.set_timer(0.05, partial(self._still_there, node, turn))
        else:
            self._follow(rest, turn)  # closed (a dialog the key dismissed): on to its parent

    def _still_there(self, node: DOMNode, turn: int) -> None:
        """A node closed with the callback in its queue (the key dismissed it): go on from its
        parent."""
        at = self._key_at
        if turn != self._key_busy or at is None or at[0] is not node:
            return
        if node.is_attached:
            self.set_timer(0.05, partial(self._still_there, node, turn))
        else:
            self._follow(at[1], turn)

    async def _key_done(self, turn: int) -> None:
        """The key (or the screen) of `turn` is done, or waited WAIT_S for: the next key."""
        if turn == self._key_busy:
            self._key_busy = self._key_at = self._key_watch = None
            await self._next_key()
