-- Version 8: definitions a site's analysts save by name (goals,
-- segments; see `store::definitions`). `body` is the JSON of what each defines.
CREATE TABLE definitions (
    site              TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind IN ('goal', 'segment')),
    id                TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    body              TEXT    NOT NULL,
    updated_ms        INTEGER NOT NULL,
    PRIMARY KEY (site, kind, id)
) STRICT, WITHOUT ROWID;
