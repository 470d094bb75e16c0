// libFuzzer target for the strict CBOR reader (built with the CBOR sources by `make fuzz`).
// Invariant beyond "no crash": the reader accepts only canonical CBOR, so anything it accepts
// must re-encode to exactly the same bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCBORReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? CBORReader.decode(bytes) {
        let again = CBORWriter.encode(value)
        if again != bytes { fatalError("accepted non-canonical input: \(bytes) re-encodes as \(again)") }
    }
    return 0
}
