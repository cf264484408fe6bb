-- Enlace schema, version 4: the referral feed carries consent.
--
-- Each feed event names the arrival its referral is about, so a watcher's
-- events can be checked against that returnee's consent when they are
-- delivered. A consent change appends an event of its own (type 0, no
-- sender or receiver, never delivered to a watcher) in the same transaction
-- and before the referrals it withdraws: whoever reads the feed in order
-- learns of the change before any event committed after it.

ALTER TABLE referral_events ADD COLUMN arrival_seq BIGINT NOT NULL DEFAULT 0;

UPDATE referral_events e
  JOIN referrals r ON r.seq = e.referral_seq
  JOIN cases c ON c.seq = r.case_seq
  SET e.arrival_seq = c.arrival_seq;
