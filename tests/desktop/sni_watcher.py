#!/usr/bin/python3
"""A minimal org.kde.StatusNotifierWatcher for headless tray tests (build-and-test.md Appendix A).

Run it with Debian's /usr/bin/python3 (python3-dbus, python3-gi) inside the test's session bus,
BEFORE the app: libayatana-appindicator only registers when a watcher owns the name. It reports a
host as registered, records every item and forgets items whose bus connection goes away.
Prints "watcher ready" once the name is owned.
"""
import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = "org.kde.StatusNotifierWatcher"


class Watcher(dbus.service.Object):
    def __init__(self, bus):
        self.bus = bus
        self.items = []
        self.name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
        super().__init__(bus, "/StatusNotifierWatcher")
        bus.add_signal_receiver(
            self._owner_changed,
            signal_name="NameOwnerChanged",
            dbus_interface="org.freedesktop.DBus",
        )

    def _owner_changed(self, name, old, new):
        if new:
            return
        gone = [i for i in self.items if i.split("/", 1)[0] in (name, old)]
        for item in gone:
            self.items.remove(item)
            print(f"item unregistered: {item}", flush=True)
            self.StatusNotifierItemUnregistered(item)

    @dbus.service.method(IFACE, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # libayatana passes an object path; others pass a bus name
        item = f"{sender}{service}" if service.startswith("/") else f"{service}/StatusNotifierItem"
        if item not in self.items:
            self.items.append(item)
        print(f"item registered: {item}", flush=True)
        self.StatusNotifierItemRegistered(item)

    @dbus.service.method(IFACE, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(IFACE, signature="s")
    def StatusNotifierItemRegistered(self, item):
        pass

    @dbus.service.signal(IFACE, signature="s")
    def StatusNotifierItemUnregistered(self, item):
        pass

    @dbus.service.signal(IFACE, signature="")
    def StatusNotifierHostRegistered(self):
        pass

    def _props(self):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s"),
            "IsStatusNotifierHostRegistered": dbus.Boolean(True),
            "ProtocolVersion": dbus.Int32(0),
        }

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        return self._props()[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return self._props()


if __name__ == "__main__":
    DBusGMainLoop(set_as_default=True)
    watcher = Watcher(dbus.SessionBus())
    print("watcher ready", flush=True)
    GLib.MainLoop().run()
