"""The Redis key schema, in one place. Every key starts with the configured prefix (on a Redis Cluster a
hash tag, `{bs}:`, so that every key is in one slot: `Settings.key_prefix`).

area hash      {p}a:{area}              all-time counters of an area (see bigscreen.live.contrib)
day hash       {p}a:{area}:d:{yyyymmdd} counters of the events reported that (local) day,
                                        plus fl:* flows that happened that day, plus the day's
                                        field work: wf:duty, wf:patrol, wf:visit
duty set       {p}duty:{area}:d:{yyyymmdd} set: ids of the grid workers of the area who checked in
                                        that day (wf:duty counts them; see bigscreen.live.field_work)
trend hash     {p}tr:{area}:{yyyymmddhh} the hour's flows: fields "r" (reported), "c" (closed)
map            {p}map:open              hash: open cases per community (field: its code)
map version    {p}map:version           string: the areas' fingerprint, set by `city import` (or `build`) after it stored a
                                        map; running processes reload areas, map files and the wall's plans
                                        when it moves (bigscreen.jobs.watch)
department     {p}dep:{code}            all-time counters of a handling department
deadlines      {p}deadlines             zset: open cases not yet overdue, scored by deadline (epoch s)
overdue        {p}overdue               set: open cases counted as overdue
supervise      {p}supervise             zset: next supervision notice due, scored by when (epoch s);
                                        members "case:{id}" (overdue) and "call:{id}" (whistled
                                        department not reported in)
ticker         {p}ticker                capped stream of recent events
changed        {p}changed               pub/sub channel: area codes whose figures moved
schema         {p}schema                version of this schema the counters were built with
live           {p}live                  hash: against which Redis run the figures were verified, when they
                                        were last rebuilt, when a process last lost writes
                                        (bigscreen.jobs.watch; a rebuild leaves it alone)
frame          {p}frame:{scope}         the wall's ready frame of a scope (JSON, with a TTL)
delta          {p}delta:{scope}         what changed from the scope's previous frame to the stored one (JSON, with a
                                        TTL; bigscreen.wall.delta): pushed to the walls that hold the previous one
frames         {p}frames                pub/sub channel: the frames just built, each as scope, frame and delta
                                        (bigscreen.wall.publisher.announce)
watched        {p}watched               zset: scopes a web worker shows now (pushed or polled), scored by until
                                        when (epoch s): the publisher builds these at every change, the others
                                        once a second (bigscreen.wall.hub, bigscreen.wall.publisher)
push lag       {p}push_lag              hash: per web worker (host:pid), "{median push lag in s} {when, epoch s}" of the
                                        last second: the publisher spaces its builds by the latest worker
leader         {p}leader                the scheduler leader's token (SET NX PX; see bigscreen.jobs.leader)
jobs           {p}jobs                  capped stream: which process ran which scheduled job, when
alerts         {p}alerts                pub/sub channel: alert ids raised or changed
session        {p}session:{sha256(id)}  hash: one login or kiosk session (bigscreen.auth.sessions)
user sessions  {p}user:{id}:sessions    set: the session keys of one account
kiosk sessions {p}kiosk:{sha256}:sessions set: the session keys a wall's kiosk token began (ended with it)
revocations    {p}revocations           counter: moved by every revoked key, token or account; each process's
                                        key and token caches drop what they hold when it moves
                                        (bigscreen.auth.revocation)
limits         {p}limits*               login failure windows (the `limits` library; bigscreen.auth.ratelimit)
known browser  {p}user:device:{sha256(cookie)} set: accounts this browser signed in (bigscreen.auth.ratelimit)
spikes         {p}spikes                set: areas in a spike now (bigscreen.alerts.spikes)
resync         {p}resync                string with expiry: "journal" or "hold" while a rebuild or
                                        reconcile runs (bigscreen.jobs.resync)
resync journal {p}resync:journal        list: the counter changes made while a resync runs
resync staging {p}rs:new:{key}          the counters a resync builds, renamed over {p}{key} at its end
resync retired {p}rs:old:{key}          the counters a resync replaced, compared and deleted after
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = "7"  # bump when counters change shape: `sync_live` then rebuilds at start


@dataclass(frozen=True)
class Keys:
    prefix: str = "bs:"

    def area(self, area: str) -> str:
        return f"{self.prefix}a:{area}"

    def day(self, area: str, day: str) -> str:
        return f"{self.prefix}a:{area}:d:{day}"

    def duty(self, area: str, day: str) -> str:
        """Dated like a day hash (":d:{yyyymmdd}" last), so it expires and ages out the same way."""
        return f"{self.prefix}duty:{area}:d:{day}"

    def is_duty(self, key: str) -> bool:
        return key.startswith(f"{self.prefix}duty:")

    @property
    def map_open(self) -> str:
        return f"{self.prefix}map:open"

    @property
    def map_version(self) -> str:
        return f"{self.prefix}map:version"

    def department(self, code: str) -> str:
        return f"{self.prefix}dep:{code}"

    def trend(self, area: str, hour: str) -> str:
        return f"{self.prefix}tr:{area}:{hour}"

    @property
    def deadlines(self) -> str:
        return f"{self.prefix}deadlines"

    @property
    def overdue(self) -> str:
        return f"{self.prefix}overdue"

    @property
    def supervise(self) -> str:
        return f"{self.prefix}supervise"

    @property
    def leader(self) -> str:
        return f"{self.prefix}leader"

    @property
    def jobs(self) -> str:
        return f"{self.prefix}jobs"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def spikes(self) -> str:
        return f"{self.prefix}spikes"

    def session(self, digest: str) -> str:
        return f"{self.prefix}session:{digest}"

    def user_sessions(self, user_id: int) -> str:
        return f"{self.prefix}user:{user_id}:sessions"

    def kiosk_sessions(self, digest: str) -> str:
        return f"{self.prefix}kiosk:{digest}:sessions"

    @property
    def revocations(self) -> str:
        return f"{self.prefix}revocations"

    @property
    def limits(self) -> str:
        """The prefix of the `limits` library's login failure windows."""
        return f"{self.prefix}limits"

    def login_device(self, digest: str) -> str:
        return f"{self.prefix}user:device:{digest}"

    def not_counters(self, key: str) -> bool:
        """Keys a rebuild leaves alone: they are not derived from SQL's events."""
        p = self.prefix
        return (key in (self.ticker, self.leader, self.jobs, self.spikes, self.schema, self.resync, self.resync_journal,
                        self.live, self.map_version, self.revocations, self.watched, self.push_lag)
                or key.startswith((f"{p}session:", f"{p}user:", f"{p}kiosk:", self.limits, f"{p}frame:", f"{p}delta:",
                                   f"{p}rs:")))

    @property
    def resync(self) -> str:
        return f"{self.prefix}resync"

    @property
    def resync_journal(self) -> str:
        return f"{self.prefix}resync:journal"

    def staged(self, key: str) -> str:
        """Where a resync builds `key` (a key of this prefix) before renaming it into place."""
        return f"{self.prefix}rs:new:{key[len(self.prefix):]}"

    def retired(self, key: str) -> str:
        return f"{self.prefix}rs:old:{key[len(self.prefix):]}"

    @property
    def ticker(self) -> str:
        return f"{self.prefix}ticker"

    def frame(self, scope: str) -> str:
        return f"{self.prefix}frame:{scope}"

    def delta(self, scope: str) -> str:
        return f"{self.prefix}delta:{scope}"

    @property
    def frames(self) -> str:
        return f"{self.prefix}frames"

    @property
    def watched(self) -> str:
        return f"{self.prefix}watched"

    @property
    def push_lag(self) -> str:
        return f"{self.prefix}push_lag"

    @property
    def schema(self) -> str:
        return f"{self.prefix}schema"

    @property
    def live(self) -> str:
        return f"{self.prefix}live"

    @property
    def changed(self) -> str:
        return f"{self.prefix}changed"

    def all_pattern(self) -> str:
        return f"{self.prefix}*"
