#!/usr/bin/env python3
"""An independent protocol E peer for servicehall's tests, built from PyPI's pyTeliumManager
2.4.2 (run inside the virtualenv made by telium_peer_setup.sh).

  telium_peer.py terminal TEST_DIR DEVICE [COUNT]
      Serves the fake terminal from pyTeliumManager's own test suite (test/test_tpe.py,
      FakeTeliumDevice) on DEVICE, a pty end, for COUNT transactions (default 1). The fake
      approves every request and echoes its amount, POS number and currency.

  telium_peer.py register DEVICE AMOUNT
      Runs pyTeliumManager's cash-register side (telium.Telium) for one CNY sale of AMOUNT
      yuan against DEVICE and prints the terminal's answer as JSON.

Prints "ready" once the device is open. Exits non-zero on any failure.
"""
import json
import os
import sys
import threading
import tty


def serve_terminal(test_dir, device, count):
    sys.path.insert(0, test_dir)
    import test_tpe  # pyTeliumManager-2.4.2/test/test_tpe.py, unmodified
    from faker import Faker

    class PtyFakeTeliumDevice(test_tpe.FakeTeliumDevice):
        """The upstream fake, on a given pty end instead of a pty pair of its own."""

        def __init__(self, fd, path):
            self._master = fd
            self._slave = None
            self._s_name = path
            self._fake = Faker()
            # The upstream thread body, unchanged (name-mangled private method).
            self._fake_device = threading.Thread(target=self._FakeTeliumDevice__run)

    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    print("ready", flush=True)
    for i in range(count):
        fake = PtyFakeTeliumDevice(fd, device)
        fake.run_instance()
        fake._fake_device.join()
        print("served", i + 1, flush=True)


def run_register(device, amount):
    from telium import Telium, TeliumAsk

    t = Telium(device, timeout=2)
    print("ready", flush=True)
    ask = TeliumAsk.new_payment(amount, payment_mode="debit", target_currency="CNY")
    if not t.ask(ask):
        raise SystemExit("the terminal did not take the request")
    answer = t.verify(ask, waiting_timeout=5)
    if answer is None:
        raise SystemExit("no answer from the terminal")
    print(json.dumps({
        "pos": answer.pos_number,
        "result": answer.transaction_result,
        "amount": answer.amount,
        "currency": answer.currency_numeric,
        "report": answer.repport,
        "private": answer.private,
    }), flush=True)


def main():
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "terminal":
        serve_terminal(args[1], args[2], int(args[3]) if len(args) > 3 else 1)
    elif len(args) == 3 and args[0] == "register":
        run_register(args[1], float(args[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
