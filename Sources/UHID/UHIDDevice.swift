#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why a uhid device could not be created, with what to do about it.
public struct UHIDError: Error, CustomStringConvertible {
    public let description: String
}

/// A HID device created through /dev/uhid (Linux). The kernel sees a HID device on the bus
/// given (USB, because libfido2 ignores other buses), with hidraw on top; output reports arrive
/// here, input reports go back to the kernel. Closing the file destroys the device, so it goes
/// away even if vfido is killed.
public final class UHIDDevice: @unchecked Sendable {
    public struct Identity: Sendable {
        public var name: String
        public var phys: String
        /// ASCII only: a binary HID_UNIQ breaks udev rules.
        public var uniq: String
        public var vendor: UInt32
        public var product: UInt32
        public var version: UInt32
        public init(name: String, phys: String, uniq: String, vendor: UInt32, product: UInt32, version: UInt32) {
            self.name = name
            self.phys = phys
            self.uniq = String(uniq.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }.map(Character.init))
            self.vendor = vendor
            self.product = product
            self.version = version
        }
    }

    public let path: String
    let fd: Int32
    let reportSize: Int
    private let writeLock = NSLock()
    private var reader: Thread?
    private var destroyed = false
    /// destroy() writes to `wake[1]`: the reader polls it beside `fd`, so it leaves its wait and
    /// the descriptor is closed only once nobody blocks on it.
    private let wake: [Int32]
    private let readerDone = DispatchSemaphore(value: 0)
    private var readerExited = false
    /// Whether the reader thread has returned (tests).
    var readerHasExited: Bool { writeLock.lock(); defer { writeLock.unlock() }; return readerExited }

    /// Opens `path` and creates the device. Fails at once, with advice, when /dev/uhid is
    /// missing or not writable.
    public init(path: String = "/dev/uhid", identity: Identity, reportDescriptor: [UInt8], reportSize: Int) throws {
        self.path = path
        self.reportSize = reportSize
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Self.openError(path: path, errno: errno) }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0, fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC) == 0,
              fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC) == 0 else {
            let e = errno
            close(fd)
            throw UHIDError(description: "cannot make the uhid reader's wake-up pipe: \(String(cString: strerror(e)))")
        }
        self.fd = fd
        wake = pipeEnds
        let create = UHIDOutgoingEvent.create2(
            name: identity.name, phys: identity.phys, uniq: identity.uniq, bus: UHID.busUSB, vendor: identity.vendor,
            product: identity.product, version: identity.version, country: 0, reportDescriptor: reportDescriptor)
        guard write(create) else {
            let e = errno
            close(fd)
            close(pipeEnds[0])
            close(pipeEnds[1])
            throw UHIDError(description: "cannot create a HID device through \(path): \(String(cString: strerror(e)))")
        }
    }

    /// Fails fast, with the same advice as `init`, if `path` cannot be opened for writing.
    public static func checkAccess(path: String = "/dev/uhid") throws {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path: path, errno: errno) }
        close(fd)
    }

    static func openError(path: String, errno e: Int32) -> UHIDError {
        switch e {
        case ENOENT, ENODEV, ENXIO:
            return UHIDError(description: """
                \(path) does not exist: this kernel has no uhid support loaded.
                Load it with `sudo modprobe uhid` (and at every boot: `echo uhid | sudo tee /etc/modules-load.d/uhid.conf`), \
                or use USB/IP instead (`vfido serve`, then `usbip attach`).
                """)
        case EACCES, EPERM:
            return UHIDError(description: """
                no permission to open \(path).
                Install vfido's udev rules (`sudo make install`, or copy udev/70-vfido.rules to /etc/udev/rules.d/ and run \
                `sudo udevadm control --reload && sudo udevadm trigger`), add yourself to the `vfido` group \
                (`sudo usermod -aG vfido $USER`, then log in again), or run vfido as root.
                """)
        default:
            return UHIDError(description: "cannot open \(path): \(String(cString: strerror(e)))")
        }
    }

    @discardableResult
    func write(_ event: UHIDOutgoingEvent) -> Bool {
        let bytes = event.bytes
        writeLock.lock()
        defer { writeLock.unlock() }
        if destroyed { return false }
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// Sends an input report to the kernel (hidraw readers get it).
    public func sendInputReport(_ report: [UInt8]) {
        write(.input2(data: report))
    }

    /// Starts reading the kernel's events on a thread of its own. `onOutputReport` gets each
    /// output report without the report-ID byte; `onEvent` sees every event (for logging).
    public func run(onOutputReport: @escaping @Sendable ([UInt8]) -> Void, onEvent: @escaping @Sendable (UHIDIncomingEvent) -> Void) {
        let thread = Thread { [self] in
            defer {
                writeLock.lock()
                readerExited = true
                writeLock.unlock()
                readerDone.signal()
            }
            var buffer = [UInt8](repeating: 0, count: UHID.eventSize)
            while true {
                var waits = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                             pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
                let ready = poll(&waits, 2, -1)
                if ready < 0 && errno == EINTR { continue }
                guard ready > 0, waits[1].revents == 0 else { return }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                guard n > 0, let event = UHIDIncomingEvent(Array(buffer.prefix(n))) else { return }
                onEvent(event)
                switch event {
                case .output(let data, _):
                    // A device without report IDs still gets the report-ID byte 0 first.
                    onOutputReport(data.count == reportSize + 1 && data.first == 0 ? Array(data.dropFirst()) : data)
                case .getReport(let id, _, _):
                    write(.getReportReply(id: id, error: UInt16(EIO), data: []))
                case .setReport(let id, _, _, _):
                    write(.setReportReply(id: id, error: UInt16(EIO)))
                default:
                    break
                }
            }
        }
        thread.name = "uhid"
        reader = thread
        thread.start()
    }

    /// Removes the device from the kernel, wakes the reader and waits for it to leave, then
    /// closes the descriptors.
    public func destroy() {
        writeLock.lock()
        let first = !destroyed
        if first {
            destroyed = true  // from here on write() refuses, so nothing touches fd but us
            let bytes = UHIDOutgoingEvent.destroy.bytes
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        }
        writeLock.unlock()  // the reader may be waiting for it to answer a GET_REPORT
        guard first else { return }
        if let reader, reader != Thread.current {
            var byte: UInt8 = 1
            _ = Glibc.write(wake[1], &byte, 1)
            readerDone.wait()
        }
        close(fd)
        close(wake[0])
        close(wake[1])
    }

    deinit { destroy() }
}
