-- Schema v1 -> v2: locked sessions also refuse updates of their scans and updates or
-- deletions of their events; an updated scan must keep the dyad's member of its role.

CREATE TRIGGER scans_locked_update BEFORE UPDATE ON scans
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
  OR (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER scans_person_role_update BEFORE UPDATE OF session_id, person_id, role ON scans
WHEN NEW.person_id IS NOT (
    SELECT CASE NEW.role WHEN 'therapist' THEN d.therapist_id ELSE d.patient_id END
    FROM sessions s JOIN dyads d ON d.id = s.dyad_id WHERE s.id = NEW.session_id)
BEGIN
    SELECT RAISE(ABORT, 'scans: person_id is not the dyad member with that role');
END;

CREATE TRIGGER events_locked_update BEFORE UPDATE ON events
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
  OR (SELECT locked FROM sessions WHERE id = NEW.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER events_locked_delete BEFORE DELETE ON events
WHEN (SELECT locked FROM sessions WHERE id = OLD.session_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

-- Schema v1 -> v2 (continued): item values and scores follow their session's lock.
CREATE TRIGGER response_items_locked_insert BEFORE INSERT ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = NEW.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER response_items_locked_change BEFORE UPDATE ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER response_items_locked_delete BEFORE DELETE ON response_items
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER scores_locked_insert BEFORE INSERT ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = NEW.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER scores_locked_change BEFORE UPDATE ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

CREATE TRIGGER scores_locked_delete BEFORE DELETE ON scores
WHEN (SELECT s.locked FROM responses r JOIN sessions s ON s.id = r.session_id
      WHERE r.id = OLD.response_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'session is locked');
END;

