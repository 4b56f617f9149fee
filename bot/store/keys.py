"""The Redis key schema: every key newsbot writes is named here and nowhere else.

All keys sit under one prefix (default ``newsbot:``). Every step that touches several keys
at once (a Lua script, a MULTI, a WATCH) uses keys of one hash tag, so it also runs on a
Redis Cluster, where a tag is one slot:

- ``{c:<channel>}``: everything of one channel (its settings, subscriptions, routed and
  pending stories, members, hold, what waits to be forwarded) and of one alert target (a
  channel, or a member's DMs ``<platform>:dm:<user>``);
- ``{ix:<day>}`` and ``{sx:<day>}``: one UTC day of the fold and search indexes, so the
  indexes spread over a cluster's nodes day by day;
- ``{al}``: the alert registry (alerts, owners, pauses), small and changed together.

A key without a tag is only ever used alone or in a pipeline, which a cluster client
splits per node; reads across stories and channels are such pipelines. Placeholders are
written ``<name>``; braces are hash tags. docs/contracts.md has this list as a table, made
by ``python -m bot.store.key_table --write docs/contracts.md`` (a test keeps it current).

Key (after the prefix), type, what it holds, and what bounds it:

- ``feeds:seq`` string: counter behind the short feed ids ``f1``, ``f2`` …
- ``feeds:by_url`` hash: feed URL -> feed id. Bounded by the watch list.
- ``feed:<fid>`` hash: url, title, interval, etag, last_modified, added_at, last_fetch,
  last_ok, last_error, failing_since, down_notice (when its channels were told it fails),
  failures, warning, entries. Bounded by the watch list.
- ``feeds:due`` zset: feed id scored by the time its next poll is due; a claim pushes the
  score forward by a lease. Bounded by the watch list.
- ``entries`` stream: parsed entries waiting for the pipeline (consumer group
  ``pipeline``); entries are deleted once acknowledged. Bounded by work in flight.
- ``entry:<fid>:<hash>`` string: "story-id ingest-id" of an entry seen in that feed.
  TTL = retention.
- ``url:<hash>`` string: "story-id ingest-id" of the first story at a canonical URL.
  TTL = retention.
- ``story:<sid>`` string: the stored story as JSON, no full text (see ``bot.store.stories``).
  TTL = retention.
- ``stories`` zset: story ids scored by published (else seen) time. Trimmed by score.
- ``feed:<fid>:seen`` hash: entry hash -> the entry's version as last fetched, for the
  entries of the feed's last document that the pipeline has (`bot.store.seen_entries`),
  so an unchanged entry is never queued again. TTL 30 days.
- ``feed:<fid>:stories`` zset: the feed's story ids, same score. Trimmed by score, and
  a TTL of the retention.
- ``{ix:<day>}:<bucket>`` hash: the fold index (LSH bands and topic pairs of the stories
  of that UTC day), field = index key, value = up to 3 story ids. 512 buckets a day keep
  each hash in Redis's compact listpack encoding up to about 4,000 new stories a day. A
  day's buckets share its tag, so one Lua call per article and day reads or writes them,
  and the days spread over a cluster's nodes. Expires `FOLD_INDEX_DAYS` after its day.
- ``schema`` string: the version of this key layout (`bot.store.schema`).
- ``schema:lock`` string: held while a process migrates older data. Expires after 5
  minutes unless the migration renews it.
- ``{ix:<day>}:df`` string: document frequencies of the stories stored that UTC day, as
  65,536 16-bit counters (a word counts in counter crc32(word) mod 65,536; 128 KB a day
  whatever the number of words). Read over the last 7 days, one call a day; expires
  after 8.
- ``{ix:<day>}:dn`` string: the number of stories counted in that day's ``df``.
- ``llm:<model>:<aid>`` string: an LLM summary of an article, by model. TTL = retention.
- ``llm:tokens:<day>`` string: LLM tokens spent that UTC day. TTL 2 days.
- ``channels`` set: every channel with a subscription or settings.
- ``{c:<channel>}`` hash: the channel's settings (schedule, quiet_message, ``breaking``
  "<outlets> <minutes>", ``rank``, ``style``, ``template``) and digest state (``slot``:
  the due time of the digest being built, ``last_digest``), and
  ``public`` ("1" when everyone in the workspace can see it, as the platform last said).
- ``visibility:version`` string: bumped after every change of who follows which feed or
  of which channels are public, so each process's cache of the visibility sets
  (`bot.store.audience`) is never older than the data.
- ``{c:<channel>}:members`` hash: user -> when the platform last said they are a member
  of the channel (a command run there, the member list). Read by alert scope; a record
  older than 10 minutes does not count. Expires an hour after its last write.
- ``digests:due`` zset: channel scored by when its next digest is due; a claim leases it.
- ``{c:<channel>}:subs`` hash: feed id -> the channel's subscription to it (JSON).
- ``feed:<fid>:subs`` hash: channel -> the same subscription, for routing a feed's stories.
- ``{sx:<day>}:seq`` hash: feed code -> how many of the feed's copies of that UTC day the
  search index numbered (a copy's number is ``<code>.<n>``, so it names its feed).
- ``{sx:<day>}:ids`` hash: copy number -> story id, for copies of that UTC day.
- ``{sx:<day>}:<bucket>`` hash: word -> numbers of that day's copies using it (256
  buckets a day). A day's search keys share its tag (one Lua call writes a copy's words)
  and expire with the retention period.
- ``{c:<channel>}:routed`` zset: stories already routed to the channel (pending or sent),
  by when they were routed; a story reaches a channel once however many copies arrive.
  Trimmed by score.
- ``{c:<channel>}:pending`` zset: stories waiting for the channel's next digest, by time.
- ``{c:<channel>}:out`` list: deliveries for the channel (JSON), written in the same script
  or transaction as the state change that made them (a story routed, a digest built, an
  alert matched), then moved onto ``outbox:{platform}`` by `bot.store.forwarding`. Empty
  but for a moment, or after a crash until the next forward.
- ``outbox:<platform>`` stream: deliveries waiting for that platform's adapter; each has a
  delivery id (channel plus story, or channel plus digest slot).
- ``outbox:<platform>:holds`` zset: held channels (see ``bot.store.holds``) by when to
  probe them next; 0 asks for a probe now.
- ``{c:<channel>}:hold`` hash: why the platform refuses the channel (``reason``,
  ``refusal``), ``since`` when, and ``release`` (how many held deliveries the release in
  progress takes). Exists exactly while the channel is held. TTL = retention.
- ``{c:<channel>}:held`` list: the held channel's deliveries (JSON), oldest first. At most
  5,000 (the oldest go first). TTL = retention.
- ``{c:<channel>}:releasing`` string: the process releasing the hold now. Expires after
  twice ``NEWSBOT_CLAIM_IDLE`` unless renewed.
- ``{c:<channel>}:attempts`` hash: ``n:{hash}`` failed attempts of a delivery, ``t:{hash}``
  when the first failed; cleared when it is sent or dead-lettered. TTL = retention.
- ``outbox:<platform>:dead`` stream: dead-lettered deliveries with ``dead_reason``,
  ``dead_attempts`` and ``dead_at``. MAXLEN ~ 10,000.
- ``delivered:<hash>`` string: a delivery id the platform accepted ("1"), or a consumer's
  short lease on it while sending ("sending <consumer>"). TTL = retention (lease: 2 min).
- ``{c:<channel>}:parts:<hash>`` hash: a delivery split into several messages, rendered
  once (``payloads``, JSON) and how many parts the platform accepted (``done``), so a retry
  sends the remaining stored parts. TTL 1 day.
- ``pace:<channel>`` string: when the channel may next be sent to (epoch seconds), shared
  by every sending process. Expires a second after that moment.
- ``discord:gateway`` string: the process holding the Discord gateway (a lease it renews;
  another process takes over when it lapses). Expires after the lease.
- ``discord:commands`` string: a hash of the `/news` command tree and where it was synced
  last, so an unchanged tree is not synced again (global sync is rate-limited).
- ``discord:interaction:<id>`` string: the process answering a Discord interaction, so no
  two answer it. TTL 15 minutes (an interaction token's life).
- ``slack:request:<hash>`` string: a signed Slack request (timestamp and signature) that
  was accepted, so the same one again is refused. TTL 6 minutes.
- ``slack:event:<hash>`` string: a Slack Events API callback handled, by its event id, so
  a repeat is not run again. TTL 1 hour.
- ``{al}:dm_closed:<platform>`` hash: user -> when a DM to them was refused because they closed
  their DMs; cleared by their next command (`AlertStore.member_active`). Bounded by the
  platform's members.
- ``{al}`` hash: alert id -> the alert as JSON (owner, workspace, the channel it was
  made in, its channel for a channel alert, query). Bounded by NEWSBOT_ALERTS_PER_USER.
- ``{al}:seq`` string: counter behind the short alert ids ``a1``, ``a2`` …
- ``{al}:version`` string: bumped on every add and remove, so every pipeline process
  rebuilds its alert index within a batch.
- ``{al}:of:<owner>`` set: a member's alert ids (owner: ``<platform>:<user>``).
- ``{al}:paused`` hash: "<platform>:<user>" -> until when their alerts are paused
  (epoch seconds; "closed" while their DMs are closed); a pause that is over, or "closed",
  is cleared by the member's next command or `alert resume`.
- ``{al}:fired`` hash: alert id -> when it last matched a story.
- ``{c:<target>}:alerted`` zset: "alert story" pairs the target (a channel alert's
  channel, or a member's DMs ``<platform>:dm:<user>``) already had, by when, so a folded
  copy never alerts again. Trimmed by score to the retention; TTL = retention.
- ``{c:<target>}:alerts`` list: matches waiting for a member's next DM (at most one a
  minute), as JSON. Trimmed to the newest 100.
- ``{c:<target>}:alert_last`` string: when the member's last alert DM was queued. Expires.
- ``{c:<target>}:alert_seq`` string: counter behind the member's alert DMs' delivery ids.
- ``{al}:due`` zset: DM targets with a waiting batch, by when it may go.
- ``{c:<channel>}:votes`` zset: "<story> <user>" pairs that gave the channel feedback on a
  story (👍 or 👎), by when, so each member marks a story once. Trimmed by score to the
  retention; TTL = retention.
- ``{c:<channel>}:feedback`` hash: ``s:<feed id>`` and ``t:<term>`` -> the channel's
  feedback weight and when it was last set (``<weight>|<epoch>``, decaying with a 30-day
  half-life), at most 500 of them (the weakest go), and ``#marks``, how many marks the
  channel gave. TTL 180 days after the last mark.
- ``breaking:channels`` set: channels with breaking news on (their rule is ``breaking`` on
  the channel's hash), read by the pipeline's breaking step every few seconds.
- ``{c:<channel>}:muted`` zset: stories a manager muted in the channel, by when: no
  breaking post, digest place or channel alert there. Trimmed to the retention.
- ``failures`` stream: per-entry pipeline failures, for diagnosis. MAXLEN ~ 1000.
- ``ui:secret`` string: the key that signs the web page's sign-in links (HMAC-SHA256),
  made once. A secret: whoever reads it can forge a sign-in link (SECURITY.md).
- ``ui:link:<id>`` string: what a sign-in link is for (platform, workspace, member or the
  operator), until it is used (GETDEL) or 15 minutes pass.
- ``ui:session:<hash>`` string: a web page session (its scope and CSRF token), by a hash
  of the cookie's value. TTL 8 hours.
- ``ui:logins:<hash>`` string: sign-ins from one client address in the current minute.
- ``slack:installs`` hash: team id -> its Slack installation (OAuth mode): bot token,
  refresh token and its expiry, bot ids, scopes, who installed it and when, as JSON
  sealed with ``NEWSBOT_SECRET_KEY`` (Fernet). Secrets, but unreadable without that key.
  Bounded by the workspaces newsbot is installed in.
- ``slack:uninstalled`` hash: team id -> when newsbot was uninstalled there (its channels
  are held until a reinstall, or removed after ``NEWSBOT_REFUSED_CHANNEL_DAYS``).
- ``slack:oauth_state:<state>`` string: an "Add to Slack" flow in progress; used once
  (GETDEL) or gone after 10 minutes.
- ``slack:refreshing:<team>`` string: the lock one process holds while it trades a
  workspace's single-use refresh token for a new token (10 s).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "newsbot:"
PIPELINE_GROUP = "pipeline"


@dataclass(frozen=True)
class Keys:
    """Builds the names of newsbot's Redis keys under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def feed_seq(self) -> str:
        return f"{self.prefix}feeds:seq"

    @property
    def feeds_by_url(self) -> str:
        return f"{self.prefix}feeds:by_url"

    def feed(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}"

    @property
    def feeds_due(self) -> str:
        return f"{self.prefix}feeds:due"

    @property
    def entries(self) -> str:
        return f"{self.prefix}entries"

    def entry_seen(self, feed_id: str, entry_hash: str) -> str:
        return f"{self.prefix}entry:{feed_id}:{entry_hash}"

    def url_seen(self, url_hash: str) -> str:
        return f"{self.prefix}url:{url_hash}"

    def story(self, story_id: str) -> str:
        return f"{self.prefix}story:{story_id}"

    @property
    def stories(self) -> str:
        return f"{self.prefix}stories"

    def feed_seen(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:seen"

    def feed_stories(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:stories"

    def fold_index(self, day: str, bucket: str) -> str:
        return f"{self.prefix}{{ix:{day}}}:{bucket}"

    @property
    def schema(self) -> str:
        return f"{self.prefix}schema"

    @property
    def schema_lock(self) -> str:
        return f"{self.prefix}schema:lock"

    def word_counts(self, day: str) -> str:
        return f"{self.prefix}{{ix:{day}}}:df"

    def story_count(self, day: str) -> str:
        return f"{self.prefix}{{ix:{day}}}:dn"

    def llm_summary(self, model_hash: str, article_id: str) -> str:
        return f"{self.prefix}llm:{model_hash}:{article_id}"

    def llm_tokens(self, day: str) -> str:
        return f"{self.prefix}llm:tokens:{day}"

    @property
    def channels(self) -> str:
        return f"{self.prefix}channels"

    def channel(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}"

    @property
    def visibility_version(self) -> str:
        return f"{self.prefix}visibility:version"

    def channel_members(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:members"

    @property
    def digests_due(self) -> str:
        return f"{self.prefix}digests:due"

    def channel_subs(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:subs"

    def feed_subs(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:subs"

    def search_sequence(self, day: str) -> str:
        return f"{self.prefix}{{sx:{day}}}:seq"

    def search_ids(self, day: str) -> str:
        return f"{self.prefix}{{sx:{day}}}:ids"

    def search_words(self, day: str, bucket: str) -> str:
        return f"{self.prefix}{{sx:{day}}}:{bucket}"

    def channel_routed(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:routed"

    def channel_pending(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:pending"

    def channel_out(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:out"

    def old_channel_key(self, channel: str, suffix: str = "") -> str:
        """A channel's key as schema 2 named it (``chan:{channel}…``), for the migration."""
        return f"{self.prefix}chan:{channel}{suffix}"

    def outbox(self, platform: str) -> str:
        return f"{self.prefix}outbox:{platform}"

    def outbox_holds(self, platform: str) -> str:
        return f"{self.prefix}outbox:{platform}:holds"

    def outbox_dead(self, platform: str) -> str:
        return f"{self.prefix}outbox:{platform}:dead"

    def channel_hold(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:hold"

    def channel_held(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:held"

    def channel_releasing(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:releasing"

    def channel_attempts(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:attempts"

    @property
    def ui_secret(self) -> str:
        return f"{self.prefix}ui:secret"

    def ui_link(self, link_id: str) -> str:
        return f"{self.prefix}ui:link:{link_id}"

    def ui_session(self, session_hash: str) -> str:
        return f"{self.prefix}ui:session:{session_hash}"

    def ui_logins(self, address_hash: str) -> str:
        return f"{self.prefix}ui:logins:{address_hash}"

    @property
    def slack_installs(self) -> str:
        return f"{self.prefix}slack:installs"

    @property
    def slack_uninstalled(self) -> str:
        return f"{self.prefix}slack:uninstalled"

    def slack_oauth_state(self, state: str) -> str:
        return f"{self.prefix}slack:oauth_state:{state}"

    def slack_refreshing(self, team: str) -> str:
        return f"{self.prefix}slack:refreshing:{team}"

    @property
    def breaking_channels(self) -> str:
        return f"{self.prefix}breaking:channels"

    def channel_votes(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:votes"

    def channel_feedback(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:feedback"

    def channel_muted(self, channel: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:muted"

    def pace(self, channel: str) -> str:
        return f"{self.prefix}pace:{channel}"

    def delivered(self, delivery_hash: str) -> str:
        return f"{self.prefix}delivered:{delivery_hash}"

    def delivery_parts(self, channel: str, delivery_hash: str) -> str:
        return f"{self.prefix}{{c:{channel}}}:parts:{delivery_hash}"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}{{al}}"

    @property
    def alerts_seq(self) -> str:
        return f"{self.prefix}{{al}}:seq"

    @property
    def alerts_version(self) -> str:
        return f"{self.prefix}{{al}}:version"

    def alerts_of(self, owner: str) -> str:
        return f"{self.prefix}{{al}}:of:{owner}"

    @property
    def alerts_paused(self) -> str:
        return f"{self.prefix}{{al}}:paused"

    @property
    def alerts_fired(self) -> str:
        return f"{self.prefix}{{al}}:fired"

    def alert_seen(self, target: str) -> str:
        return f"{self.prefix}{{c:{target}}}:alerted"

    def alert_batch(self, target: str) -> str:
        return f"{self.prefix}{{c:{target}}}:alerts"

    def alert_last(self, target: str) -> str:
        return f"{self.prefix}{{c:{target}}}:alert_last"

    def alert_seq(self, target: str) -> str:
        return f"{self.prefix}{{c:{target}}}:alert_seq"

    @property
    def alerts_due(self) -> str:
        return f"{self.prefix}{{al}}:due"

    @property
    def discord_gateway(self) -> str:
        return f"{self.prefix}discord:gateway"

    @property
    def discord_commands(self) -> str:
        return f"{self.prefix}discord:commands"

    def discord_interaction(self, interaction_id: str) -> str:
        return f"{self.prefix}discord:interaction:{interaction_id}"

    def slack_request(self, signed_hash: str) -> str:
        return f"{self.prefix}slack:request:{signed_hash}"

    def slack_event(self, event_hash: str) -> str:
        return f"{self.prefix}slack:event:{event_hash}"

    def dm_closed(self, platform: str) -> str:
        return f"{self.prefix}{{al}}:dm_closed:{platform}"

    @property
    def failures(self) -> str:
        return f"{self.prefix}failures"
