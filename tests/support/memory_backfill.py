"""In-memory stand-ins for the backfill's ports (backfill/ports.py), with the DynamoDB store's semantics: the state
kept in its JSON form, writes conditional on the version read, open backfills listed until they end."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from terra_connect.backfill.models import DataRequest
from terra_connect.backfill.ports import Accepted, ProviderSupport, Stored, TerraAnswer
from terra_connect.backfill.state import BackfillState, from_json, to_json
from terra_connect.health_data.events import BackfillCompleted
from terra_connect.kernel.deadline import Deadline

START_MS = 1_782_900_000_000  # 2026-07-01T10:00:00Z


@dataclass
class Clock:
    """Milliseconds since the epoch, moved only by the test."""

    now: int = START_MS

    def __call__(self) -> int:
        return self.now


@dataclass
class MemoryBackfillStore:
    items: dict[str, tuple[dict[str, object], int]] = field(default_factory=dict)
    ended: list[BackfillCompleted] = field(default_factory=list)
    # Called before a save compares versions: a test's chance to write in between, as a concurrent writer would.
    before_save: Callable[[], None] = lambda: None

    def load(self, terra_user_id: str) -> Stored | None:
        item = self.items.get(terra_user_id)
        return None if item is None else Stored(from_json(item[0]), item[1])

    def create(self, state: BackfillState) -> bool:
        if state.terra_user_id in self.items:
            return False
        self.items[state.terra_user_id] = (to_json(state), 1)
        return True

    def save(self, state: BackfillState, version: int, ended: BackfillCompleted | None = None) -> bool:
        self.before_save()
        current = self.items.get(state.terra_user_id)
        if current is None or current[1] != version:
            return False
        self.items[state.terra_user_id] = (to_json(state), version + 1)
        if ended is not None:
            self.ended.append(ended)
        return True

    def open_backfills(self, limit: int) -> Sequence[str]:
        states = [from_json(document) for document, _ in self.items.values()]
        opened = sorted((state.backfill.plan.deadline_ms, state.terra_user_id) for state in states if state.open)
        return [terra_user_id for _, terra_user_id in opened[:limit]]

    def state(self, terra_user_id: str) -> BackfillState:
        return from_json(self.items[terra_user_id][0])


@dataclass(frozen=True)
class Wake:
    terra_user_id: str
    token: int
    delay_ms: int
    sent_ms: int


@dataclass
class RecordedWakes:
    clock: Clock
    sent: list[Wake] = field(default_factory=list)

    def wake(self, terra_user_id: str, token: int, delay_ms: int) -> None:
        self.sent.append(Wake(terra_user_id, token, delay_ms, self.clock()))


@dataclass
class ScriptedTerra:
    """Terra's data endpoints: each request gets the next scripted answer for its type, else it is accepted under
    a fresh reference (large beyond a month). Records what was asked, and when."""

    clock: Clock
    support: ProviderSupport = field(default_factory=lambda: ProviderSupport(sdk=False, types=None))
    scripts: dict[str, list[TerraAnswer]] = field(default_factory=dict)
    asked: list[tuple[int, str, DataRequest]] = field(default_factory=list)
    answers: list[TerraAnswer] = field(default_factory=list)  # what each of `asked` got
    support_asked: list[str] = field(default_factory=list)

    def request(self, terra_user_id: str, request: DataRequest, deadline: Deadline) -> TerraAnswer:
        self.asked.append((self.clock(), terra_user_id, request))
        script = self.scripts.get(request.data_type)
        answer = script.pop(0) if script else Accepted(f"ref-{len(self.asked)}", large=request.cost > 31)
        self.answers.append(answer)
        return answer

    def provider_support(self, provider: str, deadline: Deadline) -> ProviderSupport:
        self.support_asked.append(provider)
        return self.support


@dataclass
class KeptInline:
    kept: list[tuple[str, str, bytes]] = field(default_factory=list)

    def hand_over(self, terra_user_id: str, data_type: str, body: bytes) -> None:
        self.kept.append((terra_user_id, data_type, body))
