// The entry point shared by the SwiftPM-built fuzz targets (Fuzz/CTAP, Fuzz/RP).
// Built with -DFUZZING (Fuzz/run.sh), it hands the command line to libFuzzer's driver: SwiftPM
// links an executable's entry point under a name of its own, so libFuzzer's own main is never
// used. Otherwise it replays saved inputs: `vfido-fuzz-<target> FILE|DIR...` runs each file (a
// crash the fuzzer saved, or a seed corpus) through the same code, with preconditions on.
import Foundation

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// libFuzzer's callback is a C function pointer and cannot capture: the target goes here.
nonisolated(unsafe) private var target: (([UInt8]) -> Void)?
#endif

public func fuzzMain(_ run: @escaping ([UInt8]) -> Void) -> Never {
    #if FUZZING
    target = run
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target?(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    })
    #else
    let paths = CommandLine.arguments.dropFirst().flatMap { path -> [String] in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
    }
    if paths.isEmpty {
        FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE|DIR...: replays saved fuzz inputs\n".utf8))
        exit(2)
    }
    for path in paths {
        guard let input = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
            exit(1)
        }
        run(Array(input))
        print("ok  \(path)")
    }
    exit(0)
    #endif
}
