import ArgumentParser
import Foundation
import VirtualKey

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "List, show and check device profiles (what `vfido serve --profile` makes the key look like).",
        subcommands: [List.self, Show.self, Check.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The built-in profiles.")
        func run() {
            for name in DeviceProfile.builtInNames {
                guard let profile = DeviceProfile.builtIn[name] else { continue }
                print("\(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(profile.description)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a profile as JSON, to copy and edit: vfido profile show yubikey-5-nfc-5.4 > my.json")
        @Argument(help: ArgumentHelp("A built-in profile or a profile file.", valueName: "name|file"))
        var profile: String
        func run() throws {
            do { print(try DeviceProfile.load(profile).json) } catch {
                FileHandle.standardError.write(Data("vfido profile: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a profile file; prints the first error, field by field.")
        @Argument(help: ArgumentHelp("The profile file.", valueName: "file"))
        var file: String
        func run() throws {
            do {
                let profile = try DeviceProfile.load(file)
                print("\(file): a valid profile (\(profile.name): \(profile.description))")
            } catch {
                FileHandle.standardError.write(Data("vfido profile: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }
}
