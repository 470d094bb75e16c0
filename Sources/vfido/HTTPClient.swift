import Foundation

struct HTTPReply {
    var status: Int
    var body: Data
}

/// A small blocking HTTP/1.1 client for the control API, over its Unix socket or TCP: the CLI
/// needs one request at a time, or one event stream, and no dependency for it.
struct HTTPClient {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// nil: the Unix socket.
    let api: String?
    let socket: String

    func request(_ method: String, _ path: String, token: String, body: Data?) throws -> HTTPReply {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, method: method, path: path, token: token, body: body)
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return try parse(received)
    }

    /// Reads a streamed (chunked) response, handing each line of its body to `line`.
    func stream(_ path: String, token: String, line: (String) -> Void) throws {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, method: "GET", path: path, token: token, body: nil)
        var pending = Data()
        var headerDone = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        var chunked = ChunkedDecoder()
        var lines = LineSplitter()
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            pending.append(contentsOf: buffer[0..<n])
            if !headerDone {
                guard let end = pending.range(of: Data("\r\n\r\n".utf8)) else { continue }
                let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                pending = Data(pending[end.upperBound...])
                guard status == 200 else {
                    var rest = pending
                    while true {
                        let m = read(fd, &buffer, buffer.count)
                        if m <= 0 { break }
                        rest.append(contentsOf: buffer[0..<m])
                    }
                    throw Failure(description: "the event stream answered HTTP \(status): \(String(decoding: rest, as: UTF8.self))")
                }
                headerDone = true
            }
            for l in lines.feed(chunked.feed(pending)) { line(l) }
            pending = Data()
        }
    }

    private func connect() throws -> Int32 {
        if let api {
            guard let url = URL(string: api), let host = url.host, url.scheme == "http" else {
                throw Failure(description: "--api must be http://HOST:PORT, not \(api)")
            }
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(url.port ?? 8112), &hints, &result) == 0, let info = result else {
                throw Failure(description: "cannot resolve \(host)")
            }
            defer { freeaddrinfo(result) }
            let fd = Foundation.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0, Foundation.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                if fd >= 0 { close(fd) }
                throw Failure(description: "no vfido control API answers at \(api)")
            }
            return fd
        }
        let fd = Foundation.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socket.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(description: "socket path too long: \(socket)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "no vfido daemon answers on \(socket) (is `vfido serve` running with this --state?)")
        }
        return fd
    }

    private func send(_ fd: Int32, method: String, path: String, token: String, body: Data?) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: vfido\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + Array(body ?? Data())
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure(description: "write failed: errno \(errno)") }
            offset += n
        }
    }

    private func parse(_ data: Data) throws -> HTTPReply {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { throw Failure(description: "the daemon sent no HTTP reply") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ").dropFirst().first ?? "") }) else {
            throw Failure(description: "malformed HTTP status line")
        }
        var body = Data(data[end.upperBound...])
        if lines.contains(where: { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }) {
            var decoder = ChunkedDecoder()
            body = decoder.feed(body)
        }
        return HTTPReply(status: status, body: body)
    }
}

/// Undoes chunked transfer encoding as bytes arrive.
struct ChunkedDecoder {
    private var buffer = Data()

    /// The body bytes that `data` completes.
    mutating func feed(_ data: Data) -> Data {
        buffer.append(data)
        var decoded = Data()
        while let lineEnd = buffer.range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: buffer[buffer.startIndex..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
            let start = lineEnd.upperBound
            guard buffer.endIndex - start >= size + 2 else { break }
            decoded.append(buffer[start..<(start + size)])
            buffer = Data(buffer[(start + size + 2)...])
        }
        return decoded
    }
}

/// Splits bytes into lines as they arrive.
struct LineSplitter {
    private var text = Data()

    mutating func feed(_ data: Data) -> [String] {
        text.append(data)
        var lines: [String] = []
        while let newline = text.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: text[text.startIndex..<newline], as: UTF8.self))
            text = Data(text[(newline + 1)...])
        }
        return lines
    }
}
