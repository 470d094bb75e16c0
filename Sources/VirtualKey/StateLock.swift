import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One daemon per state directory: an exclusive lock on `<state>/daemon.lock`, held while the
/// daemon runs (two daemons on one store would hand out the same signature counters and race
/// each other's writes). Commands that only read or edit the store (`vfido creds`) take no lock.
/// The kernel drops the lock when the process ends, however it ends.
public final class StateLock: @unchecked Sendable {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    public static func acquire(_ directory: URL) throws -> StateLock {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = directory.appendingPathComponent("daemon.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DaemonError("another vfido is already serving \(directory.path) (\(path) is locked): stop it, or give this one another --state")
        }
        return StateLock(fd: fd)
    }

    public func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}
