#!/usr/bin/python3
"""Answer an agency's Enlace referral inbox: accept what it offers, decline the rest.

An example of an agency backend (UNDP, UNHCR, ...) written against Enlace's
gRPC contract with nothing but grpcio and protobuf. It connects with the
agency's client certificate (the certificate is the identity), then:

  1. pages through its INBOX referrals with status PENDING and answers each;
  2. with --watch, follows ReferralService.WatchReferrals and answers every
     referral CREATED for it from then on, fetching each with GetReferral.

The rule (deliberately simple): a referral whose service is one of --offers
is ACCEPTED; any other is DECLINED with the reason
"<agency> does not offer <SERVICE> (offers: ...)". Only PENDING referrals are
answered; each answer carries the etag just read, so a referral that changed
meanwhile (withdrawn by its sender, answered by another replica of this
program) is re-read and never answered twice.

With --watch and --state FILE, the resume token of the last event handled is
saved in FILE (atomically) after each event, and a restart resumes the watch
right after it: referrals created while the program was down are answered
(by the inbox pass at start-up, and again seen, then skipped, on the watch).
Without --state the watch starts "from now" at each start; the inbox pass
still picks up what was created meanwhile. A broken stream (server restart,
outage) is reopened from the last token, with backoff up to 10 s.

Output: one line per decision on stdout,
  ACCEPTED <referral_id> service=NEED_SEED_CAPITAL from=iom via=inbox
  DECLINED <referral_id> service=NEED_HEALTH from=iom via=watch reason="..."
Progress and errors go to stderr. Personal data of returnees is not printed.

Exit status: 0 done (--once), or stopped by SIGTERM/SIGINT (--watch);
1 the server refused or failed a call that is not retried; 2 bad usage or files.
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enlace_client as ec  # noqa: E402  (the shared helpers beside this file)

EXAMPLE = """\
examples:
  # UNDP answers its inbox once: livelihood services accepted, the rest declined
  referral_inbox.py --addr localhost:7443 --ca var/pki/ca.crt \\
      --cert var/pki/undp.crt --key var/pki/undp.key \\
      --offers NEED_SEED_CAPITAL,NEED_TRAINING,NEED_EMPLOYMENT --once

  # ... then keeps answering new referrals, resuming across restarts
  export ENLACE_CA=var/pki/ca.crt ENLACE_CERT=var/pki/undp.crt ENLACE_KEY=var/pki/undp.key
  referral_inbox.py --offers SEED_CAPITAL,TRAINING --watch --state undp-inbox.state
"""

CALL_TIMEOUT = 30.0     # seconds, each unary call
RETRY_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
               grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
               grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED}
MAX_BACKOFF = 10.0


def note(msg):
    print(f"referral_inbox: {msg}", file=sys.stderr, flush=True)


class Fatal(Exception):
    """Ends the program with exit status 1 and this message."""


# ------------------------------------------------------------------ arguments

def parse_args(argv, api):
    needs = [n for n in api.arrivals.Need.keys() if n != "NEED_UNSPECIFIED"]
    parser = argparse.ArgumentParser(
        prog="referral_inbox.py",
        description=__doc__ + "\nServices: " + ", ".join(needs) + ".",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    ec.add_connection_flags(parser)
    parser.add_argument("--offers", required=True, metavar="SERVICE[,SERVICE...]",
                        help="the services this agency offers, e.g. "
                             "NEED_SEED_CAPITAL,NEED_TRAINING (the NEED_ prefix is optional)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="answer the PENDING inbox, then exit (the default)")
    mode.add_argument("--watch", action="store_true",
                      help="after the inbox, follow WatchReferrals and answer new "
                           "referrals until SIGTERM/SIGINT")
    parser.add_argument("--state", metavar="FILE",
                        help="with --watch: where the resume token is kept between runs")
    parser.add_argument("--agency", metavar="CODE",
                        help="this agency's code (default: read from the certificate's "
                             "spiffe://enlace/agency/<code>)")
    parser.add_argument("--page-size", type=int, default=100, help="inbox page size (1-500)")
    args = parser.parse_args(argv)

    offers = set()
    for item in filter(None, (s.strip().upper() for s in args.offers.split(","))):
        name = item if item.startswith("NEED_") else "NEED_" + item
        if name not in needs:
            parser.error(f"--offers: unknown service {item!r} (one of {', '.join(needs)})")
        offers.add(api.arrivals.Need.Value(name))
    args.offers = offers
    if args.state and not args.watch:
        parser.error("--state goes with --watch")
    if not 1 <= args.page_size <= 500:
        parser.error("--page-size: between 1 and 500")
    args.channel = ec.channel_from_args(parser, args)
    if not args.agency:
        args.agency = agency_of_certificate(ec.connection_settings(args)[2])
        if not args.agency:
            parser.error("cannot read the agency code from the certificate: give --agency")
    return args


def agency_of_certificate(path):
    """'undp' for a certificate whose URI SAN is spiffe://enlace/agency/undp."""
    try:
        # CPython's decoder (used by its own tests); stable since 3.x, no extra package.
        decoded = ssl._ssl._test_decode_cert(path)
    except (AttributeError, ssl.SSLError, OSError, ValueError):
        return None
    for kind, value in decoded.get("subjectAltName", ()):
        if kind == "URI" and value.startswith("spiffe://enlace/agency/"):
            return value[len("spiffe://enlace/agency/"):]
    return None


# -------------------------------------------------------------------- answers

class Inbox:
    """Decides and answers referrals; remembers what it answered in this run."""

    def __init__(self, api, channel, agency, offers):
        self.pb = api.referrals
        self.need = api.arrivals.Need
        self.stub = api.referrals_grpc.ReferralServiceStub(channel)
        self.agency = agency
        self.offers = offers
        self.answered = set()

    def rule(self, referral):
        """(accept, decline_reason): the documented rule."""
        if referral.service in self.offers:
            return True, ""
        offered = ", ".join(sorted(self.need.Name(n) for n in self.offers))
        return False, (f"{self.agency} does not offer {self.need.Name(referral.service)} "
                       f"(offers: {offered})")

    def call(self, method, request):
        """One unary call, retried with backoff while the server is unavailable."""
        delay = 0.5
        for attempt in range(8):
            try:
                return method(request, timeout=CALL_TIMEOUT)
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.RESOURCE_EXHAUSTED) or attempt == 7:
                    raise
                note(f"{ec.describe(e)}; retrying in {delay:.1f} s")
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def answer(self, referral, via):
        """Answers one referral if it is PENDING and addressed to us."""
        rid = referral.referral_id
        for _ in range(3):  # a stale etag: read again and re-decide
            if referral.to_agency != self.agency:
                return
            if referral.status != self.pb.REFERRAL_STATUS_PENDING:
                if rid not in self.answered:
                    note(f"{rid} is already {self.pb.ReferralStatus.Name(referral.status)}: "
                         f"left as it is")
                return
            accept, reason = self.rule(referral)
            try:
                if accept:
                    done = self.call(self.stub.AcceptReferral, self.pb.AcceptReferralRequest(
                        referral_id=rid, etag=referral.etag))
                else:
                    done = self.call(self.stub.DeclineReferral, self.pb.DeclineReferralRequest(
                        referral_id=rid, reason=reason, etag=referral.etag))
            except grpc.RpcError as e:
                code = e.code()
                if code in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION):
                    referral = self.get(rid)  # changed meanwhile: look again
                    if referral is None:
                        return
                    continue
                if code == grpc.StatusCode.NOT_FOUND:
                    note(f"{rid} is no longer visible (consent withdrawn?): skipped")
                    return
                if code in RETRY_CODES:
                    raise  # transient: the caller tries again later
                raise Fatal(f"answering {rid}: {ec.describe(e)}") from None
            self.answered.add(rid)
            line = (f"{self.pb.ReferralStatus.Name(done.status)[len('REFERRAL_STATUS_'):]} {rid} "
                    f"service={self.need.Name(done.service)} from={done.from_agency} via={via}")
            if not accept:
                line += f' reason="{reason}"'
            print(line, flush=True)
            return
        note(f"{rid} keeps changing under us: left for the next pass")

    def get(self, rid):
        try:
            return self.call(self.stub.GetReferral, self.pb.GetReferralRequest(referral_id=rid))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                note(f"{rid} is no longer visible (consent withdrawn?): skipped")
                return None
            if e.code() in RETRY_CODES:
                raise
            raise Fatal(f"GetReferral {rid}: {ec.describe(e)}") from None

    def answer_pending(self, page_size, stop):
        """The inbox pass: every PENDING referral addressed to us. Returns how many
        were answered. Keyset paging: answering a referral does not move the pages.
        Raises grpc.RpcError for a transient failure (RETRY_CODES), Fatal otherwise."""
        request = self.pb.ListReferralsRequest(
            box=self.pb.BOX_INBOX, statuses=[self.pb.REFERRAL_STATUS_PENDING])
        seen = 0
        before = len(self.answered)
        try:
            for referral in ec.paged(self.stub.ListReferrals, request, "referrals",
                                     page_size=page_size, timeout=CALL_TIMEOUT):
                if stop.is_set():
                    break
                seen += 1
                self.answer(referral, "inbox")
        except grpc.RpcError as e:
            if e.code() in RETRY_CODES:
                raise
            raise Fatal(f"ListReferrals: {ec.describe(e)}") from None
        note(f"inbox: {seen} pending, {len(self.answered) - before} answered")
        return len(self.answered) - before


# ---------------------------------------------------------------------- watch

def load_state(path):
    if not path or not os.path.exists(path):
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("resume_token", "")
    except (OSError, ValueError, AttributeError) as e:
        raise Fatal(f"cannot read the state file {path}: {e} "
                    "(remove it to start the watch from now)") from None


def save_state(path, token):
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"resume_token": token, "saved_at": int(time.time())}, f)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Watcher:
    def __init__(self, api, inbox, state_path, stop):
        self.pb = api.referrals
        self.inbox = inbox
        self.state_path = state_path
        self.stop = stop
        self.call = None
        self.lock = threading.Lock()

    def cancel(self):
        with self.lock:
            if self.call is not None:
                self.call.cancel()

    def run(self, page_size):
        token = load_state(self.state_path)
        note("watch: resuming from the saved token" if token else "watch: from now on")
        delay = 1.0
        first = True
        while not self.stop.is_set():
            with self.lock:
                self.call = self.inbox.stub.WatchReferrals(
                    self.pb.WatchReferralsRequest(resume_token=token))
            try:
                # The watch is open before the inbox is read: a referral created
                # in between is seen by one or the other (answers are idempotent).
                if first or not token:
                    self.inbox.answer_pending(page_size, self.stop)
                    first = False
                for event in self.call:
                    delay = 1.0
                    rid = event.referral.referral_id
                    if (event.type == self.pb.REFERRAL_EVENT_TYPE_CREATED
                            and event.referral.to_agency == self.inbox.agency):
                        if rid in self.inbox.answered:
                            note(f"watch: CREATED {rid} (answered already)")
                        else:
                            note(f"watch: CREATED {rid}")
                            referral = self.inbox.get(rid)
                            if referral is not None:
                                self.inbox.answer(referral, "watch")
                    token = event.resume_token
                    save_state(self.state_path, token)
                    if self.stop.is_set():
                        break
                if not self.stop.is_set():
                    note("watch: the server ended the stream; reconnecting")
            except grpc.RpcError as e:
                if self.stop.is_set():
                    break
                if e.code() == grpc.StatusCode.INVALID_ARGUMENT and token:
                    raise Fatal(f"the server refused the saved resume token ({e.details()}); "
                                f"remove {self.state_path} to start the watch from now") from None
                if e.code() not in RETRY_CODES:
                    raise Fatal(f"WatchReferrals: {ec.describe(e)}") from None
                # The token has not moved past an event whose answer failed:
                # it is replayed after reconnecting.
                note(f"watch: {ec.describe(e)}; reconnecting in {delay:.0f} s")
            finally:
                with self.lock:
                    self.call.cancel()  # a no-op when the stream has ended
                    self.call = None
            self.stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        note("watch: stopped")


# ----------------------------------------------------------------------- main

def main(argv=None):
    try:
        api = ec.load_stubs()
    except ec.SetupError as e:
        print(f"referral_inbox: {e}", file=sys.stderr)
        return 2
    args = parse_args(argv, api)
    inbox = Inbox(api, args.channel, args.agency, args.offers)
    stop = threading.Event()
    try:
        if not args.watch:
            try:
                inbox.answer_pending(args.page_size, stop)
            except grpc.RpcError as e:
                raise Fatal(ec.describe(e)) from None
            return 0
        watcher = Watcher(api, inbox, args.state, stop)

        def on_signal(signum, _frame):
            stop.set()
            # Not from the handler itself: cancel() takes the call's lock.
            threading.Thread(target=watcher.cancel, daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        watcher.run(args.page_size)
        return 0
    except Fatal as e:
        print(f"referral_inbox: {e}", file=sys.stderr)
        return 1
    finally:
        args.channel.close()


if __name__ == "__main__":
    sys.exit(main())
