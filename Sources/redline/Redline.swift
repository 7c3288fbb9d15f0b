import ArgumentParser
import Glibc
import RedlineBase

@main
struct Redline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redline",
        abstract: "eBPF network observability: collect, inspect and aggregate service traffic.",
        discussion: "Exit codes: 0 success, 1 the input is damaged or the job failed, 2 usage error.",
        version: RedlineVersion.current,
        subcommands: [Collect.self, Inspect.self, Run.self, ReportCommand.self, Explain.self, Doctor.self]
    )

    /// Runs the command, mapping usage errors to exit code 2 (argument-parser's default is 64).
    static func main() {
        // Bare `redline` is a usage error (exit 2), not a success: scripts that lost their
        // arguments must notice.
        if CommandLine.arguments.count < 2 {
            let message = helpMessage() + "\n"
            _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
            Glibc.exit(2)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                let message = fullMessage(for: error) + "\n"
                _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}
