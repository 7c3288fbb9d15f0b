import ArgumentParser

@main
struct Redline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redline",
        abstract: "eBPF network observability: collect, inspect and aggregate service traffic.",
        version: "0.1.0",
        subcommands: []
    )
}
