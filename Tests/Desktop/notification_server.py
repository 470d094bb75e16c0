"""A small org.freedesktop.Notifications server of the test's own (dbus-next, asyncio, in a
thread), standing in for the desktop's: it records each notification, and answers it as the
test says (invoke an action, dismiss it, or leave it), and records CloseNotification."""
from __future__ import annotations

import asyncio
import threading

from dbus_next import Variant
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, method, signal


class Notifications(ServiceInterface):
    def __init__(self, owner: "NotificationServer"):
        super().__init__("org.freedesktop.Notifications")
        self.owner = owner

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F821
        return self.owner.capabilities

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821
        return ["vfido-test", "vfido", "1", "1.2"]

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",  # noqa: F821
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821
        self.owner.last_id += 1
        nid = self.owner.last_id
        self.owner.shown.append({"id": nid, "app": app_name, "summary": summary, "body": body, "actions": actions,
                                 "timeout": expire_timeout})
        answer = self.owner.answer
        if answer in ("allow", "deny"):
            self.owner.loop.call_later(0.2, self.ActionInvoked, nid, answer)
            self.owner.loop.call_later(0.25, self.NotificationClosed, nid, 2)
        elif answer == "dismiss":
            self.owner.loop.call_later(0.2, self.NotificationClosed, nid, 2)
        self.owner.changed.set()
        return nid

    @method()
    def CloseNotification(self, nid: "u"):  # noqa: F821
        self.owner.closed.append(nid)
        self.NotificationClosed(nid, 3)
        self.owner.changed.set()

    @signal()
    def ActionInvoked(self, nid, action) -> "us":  # noqa: F821
        return [nid, action]

    @signal()
    def NotificationClosed(self, nid, reason) -> "uu":  # noqa: F821
        return [nid, reason]


class NotificationServer:
    """Serves org.freedesktop.Notifications on the bus at `address` until `stop`."""

    def __init__(self, address: str, capabilities=("actions", "body")):
        self.address = address
        self.capabilities = list(capabilities)
        self.answer = "allow"  # allow, deny, dismiss, or ignore
        self.shown: list[dict] = []
        self.closed: list[int] = []
        self.last_id = 0
        self.changed = threading.Event()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the notification server did not come up"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.run_forever()

    async def _serve(self) -> None:
        self.bus = await MessageBus(bus_address=self.address).connect()
        self.bus.export("/org/freedesktop/Notifications", Notifications(self))
        await self.bus.request_name("org.freedesktop.Notifications")
        self.ready.set()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.bus.disconnect)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _unused(_: Variant) -> None:  # dbus_next's Variant is what a{sv} hints decode to
    pass
