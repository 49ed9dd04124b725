"""Map what a runbook's symptoms and title describe to the detector's signal ids.

A deliberately small set of phrases per signal (English, German, French),
matched case-insensitively; a runbook matches every signal whose phrases
appear in its title, its symptom list or its "use when" text.
"""

from __future__ import annotations

import re

from core.runbooks import signals as s

_RULES: list[tuple[str, str]] = [
    (s.ENDPOINTS_ALL_DOWN,
     r"\b(full (system )?outage|complete outage|total outage|everything (is )?down|"
     r"all (services|endpoints|sites) (are )?(down|unreachable)|both unreachable|"
     r"site (is )?completely down|komplettausfall|totalausfall|alles (ist )?down|panne totale)"),
    (s.HOST_UNREACHABLE,
     r"\b((cannot|can't|unable to|kann nicht) (ssh|reach|ping|connect to the server)|"
     r"(host|server|vm|vps) (is )?(unreachable|unresponsive|not responding|down|hängt)|"
     r"ssh (times out|timeout|hangs)|server nicht erreichbar|serveur injoignable)"),
    (s.ENDPOINT_DOWN,
     r"(\b50[234]\b|bad gateway|service unavailable|gateway time-?out|\bapi\b.{0,20}\b(down|fail)|"
     r"(website|site|service|endpoint|backend|frontend|app) (is )?down|health ?check(s)? fail|"
     r"returns? (5\d\d|errors)|nicht erreichbar|dienst (ist )?(down|ausgefallen)|"
     r"service (en panne|indisponible))"),
    (s.CONTAINER_RESTARTING,
     r"(restart(ing)? (loop|repeatedly|constantly)|crash ?loop|keeps restarting|restarting|"
     r"startet (ständig |immer wieder )?neu|redémarre en boucle)"),
    (s.CONTAINER_EXITED,
     r"\b(container.{0,30}(exited|stopped|crashed|not running|is down)|(exited|stopped) "
     r"container|shows? \w+ stopped|container (gestoppt|abgestürzt|beendet)|conteneur arrêté|"
     r"\bexit(ed)? \(?[1-9]\d*\)?)"),
    (s.CONTAINER_UNHEALTHY, r"\bunhealthy\b|\bungesund\b"),
    (s.CONTAINER_OOM,
     r"\b(oom|out of memory|oom-?kill\w*|killed.{0,20}memory|exit(ed)? (code )?137|"
     r"speicher (voll|erschöpft)|mémoire insuffisante)"),
    (s.POSTGRES_CONNECTIONS_HIGH,
     r"(too many (connections|clients)|connection (limit|pool)( exhausted| reached)?|"
     r"max_connections|remaining connection slots|zu viele verbindungen|trop de connexions)"),
    (s.POSTGRES_IDLE_IN_TRANSACTION, r"idle in transaction"),
    (s.POSTGRES_UNREACHABLE,
     r"((cannot|can't|unable to|fail(ed|s)? to) connect to (the )?(database|db|postgres\w*)|"
     r"database connection (errors?|fail\w*|refused)|postgres\w* (is )?(down|unreachable|"
     r"not (responding|running|accepting))|datenbank (ist )?nicht erreichbar|"
     r"(database|datenbank|postgres\w*).{0,20}(won't start|does not start|startet nicht)|"
     r"base de données injoignable)"),
    (s.DISK_FULL,
     r"(disk (is )?(full|space)|out of disk|no space left|storage (is )?full|disk usage|"
     r"(fest)?platte (ist )?voll|kein speicherplatz|speicherplatz|disque plein)"),
    (s.DISK_INODES, r"\binodes?\b"),
    (s.CERT_EXPIRED,
     r"((certificate|cert|ssl|tls|zertifikat)\w*.{0,30}(expired|abgelaufen|expiré)|"
     r"expired (ssl |tls )?cert)"),
    (s.CERT_EXPIRING,
     r"((certificate|cert|ssl|tls|zertifikat)\w*.{0,30}(expir(es|ing) soon|about to expire|"
     r"läuft (bald )?ab|expire bientôt))"),
    (s.CERT_INVALID,
     r"((certificate|cert|ssl|tls)\w*.{0,30}(invalid|mismatch|untrusted|not trusted|chain|"
     r"hostname)|https not working|browser warnings?|ungültiges zertifikat)"),
    (s.BACKUP_STALE,
     r"(backups?.{0,40}(not (running|receiving|created|uploaded)|no new|missing|failed|stale|"
     r"overdue|fehlt|fehlgeschlagen|échou)|(no|not receiving|missing|failed|fehlendes?) "
     r"(\w+ )?backups?)"),
    (s.BACKUP_SHRUNK,
     r"backups?.{0,40}(smaller|shrunk|shrank|size dropped|truncated|incomplete|kleiner)"),
    (s.SYSTEM_CPU_HIGH,
     r"(high cpu|cpu (usage |load )?(is )?(high|at 100|spik\w*|saturated)|load average|"
     r"hohe cpu|cpu-?last|charge cpu)"),
    (s.SYSTEM_MEMORY_HIGH,
     r"(high memory|memory (usage )?(is )?(high|full|pressure)|swapping|ram (is )?(full|"
     r"exhausted)|hoher speicherverbrauch|arbeitsspeicher)"),
    (s.ENDPOINT_SLOW,
     r"(slow (response|requests?|api|pages?|endpoints?)|high latency|response times? (is |are )?"
     r"(high|slow)|requests? (are )?slow|timeouts? (on|for) requests|langsame? (antwort|seiten)|"
     r"lenteur)"),
]
_COMPILED = [(signal, re.compile(pattern, re.I)) for signal, pattern in _RULES]


def signals_in(text: str) -> list[str]:
    """The signal ids ``text`` describes, in the detector's order."""
    found: list[str] = []
    for signal, pattern in _COMPILED:
        if pattern.search(text) and signal not in found:
            found.append(signal)
    if s.ENDPOINTS_ALL_DOWN in found and s.ENDPOINT_DOWN in found:
        found.remove(s.ENDPOINT_DOWN)
    other_store = re.search(
        r"(?i)\b(mysql|mariadb|redis|valkey|mongo\w*|elastic\w*|memcached)\b", text
    )
    if other_store and not re.search(r"(?i)\b(postgres\w*|psql|pg_\w+)\b", text):
        # the detector's database and OOM signals are about PostgreSQL and container kills
        found = [sig for sig in found if not sig.startswith("postgres.") and sig != s.CONTAINER_OOM]
    return [sig for sig in s.ALL_SIGNALS if sig in found]
