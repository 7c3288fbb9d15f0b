import CRedlineABI
import KernelProbes
import Testing
import TestSupport
@testable import Collector
import YAMLConfig

@Suite struct CollectorConfigTests {
    let full = """
        version: 1
        host: host1
        interfaces: ["veth-*", eth0]
        sockops_cgroup: /redline-lab
        rules: rules/default.yaml
        filters:
          - {action: allow, cidr: 198.18.0.0/15}
          - {action: deny, port: 22, protocol: tcp}
          - {action: allow, src_classid: "10:1"}
        rate_caps: {flow_delta: 1000, l7_call: 0}
        ring_buffer_size: 16MiB
        services:
          - {cgroup: /redline-lab/host1/frontend, id: 101}
        segments:
          root: /var/lib/redline/segments
          window_seconds: 60
          max_segment_size: 64MiB
          disk_budget: 10GiB
        clock: {anchor_interval_seconds: 5}
        metrics_file: redline.prom
        memory_cap: 64MiB
        kernel: {flush_interval_ms: 250, rate_bursts: {l7_call: 500}, ring_wakeup_every: 16, observe: [udp], drop_reason_min: 3, l7_max_misses: 4}

        """

    func parse(_ s: String) throws(ConfigError) -> CollectorConfig {
        try CollectorConfig.parse(yaml: s, file: "c.yaml", baseDirectory: "/etc/redline")
    }

    @Test func fullConfigParses() throws {
        let c = try parse(full)
        #expect(c.host == "host1")
        #expect(c.interfaces == ["veth-*", "eth0"])
        #expect(c.rulesFile == "/etc/redline/rules/default.yaml")
        #expect(c.metricsFile == "/etc/redline/redline.prom")
        #expect(c.kernel.filters == [.cidr(try #require(CIDR("198.18.0.0/15")), .allow), .port(22, l4Proto: 6, .deny),
                                     .classid(0x0010_0001, source: true, .allow)])
        #expect(c.kernel.rateCaps == .init(flowDelta: 1000, l7Call: 0, tcpEvent: 20_000))
        #expect(c.services == [.init(cgroup: "/redline-lab/host1/frontend", id: 101)])
        #expect(c.maxSegmentBytes == 64 << 20 && c.diskBudgetBytes == 10 << 30)
        #expect(c.anchorIntervalSeconds == 5 && c.anchorSamples == 7)
        #expect(c.ringBufferBytes == 16 << 20)
    }

    @Test func segmentModesAndMinimumFreeSpace() throws {
        let c = try parse(full.replacingOccurrences(of: "max_segment_size: 64MiB",
                                                    with: "max_segment_size: 64MiB\n  min_free: 1GiB\n  file_mode: \"0600\"\n  dir_mode: \"0o700\""))
        #expect(c.minFreeBytes == 1 << 30 && c.fileMode == 0o600 && c.directoryMode == 0o700)
        let d = try parse("version: 1\nsegments: {root: /seg}\n")
        #expect(d.minFreeBytes == 0 && d.fileMode == 0o640 && d.directoryMode == 0o750)
        // A CIDR whose host bits are zero is accepted in either family's spelling.
        #expect(try parse("version: 1\nsegments: {root: /seg}\nfilters:\n  - {action: allow, cidr: \"2001:DB8::/32\"}\n").kernel.filters.count == 1)
    }

    @Test("every rl_config key of redline_maps.h is written from the YAML, or named as set elsewhere")
    func kernelConfigCoversEveryKey() throws {
        let c = try parse(full)
        let values = Dictionary(uniqueKeysWithValues: c.kernel.entries.map { (Int($0.key.rawValue), $0.value) })
        #expect(values.count == c.kernel.entries.count, "a key written twice")
        let header = try ABIHeader.enumConstants("rl_config_key", in: ABIHeader.include("redline_maps.h"))
        let keys = header.filter { $0.name != "RL_CFG_MAX" }
        #expect(keys.count == Int(RL_CFG_MAX.rawValue))
        let elsewhere = Set(KernelConfig.keysSetElsewhere.map { Int($0.rawValue) })
        for k in keys {
            #expect((values[k.value] != nil) != elsewhere.contains(k.value), "\(k.name)")
        }
        // The YAML's values, in the kernel's units.
        let want: [rl_config_key: UInt64] = [
            RL_CFG_FLUSH_INTERVAL_NS: 250_000_000, RL_CFG_RATE_FLOW: 1000, RL_CFG_RATE_CALL: 0, RL_CFG_RATE_TCP_EVENT: 20_000,
            RL_CFG_BURST_FLOW: 0, RL_CFG_BURST_CALL: 500, RL_CFG_BURST_TCP_EVENT: 0, RL_CFG_WAKEUP_EVERY: 16,
            RL_CFG_L4_MASK: 2, RL_CFG_FILTERS_ACTIVE: UInt64(RL_FILTER_CIDR.rawValue | RL_FILTER_PORT.rawValue | RL_FILTER_CLASSID.rawValue),
            RL_CFG_DEFAULT_DENY: UInt64(RL_FILTER_CIDR.rawValue | RL_FILTER_CLASSID.rawValue), RL_CFG_L7_DENY_MASK: 0,
            RL_CFG_ID_OPTION_EXPECTED: 1, RL_CFG_DROP_REASON_MIN: 3, RL_CFG_L7_MAX_MISSES: 4, RL_CFG_NETNS_INO: 0,
        ]
        for (k, v) in want { #expect(values[Int(k.rawValue)] == v, "\(k)") }
        // Without the section: the kernel's own defaults, written explicitly.
        let d = try parse("version: 1\nsegments: {root: /seg}\nfilters:\n  - {action: deny, l7: tls}\n").kernel
        #expect(d.flushIntervalNanos == 1_000_000_000 && d.ringWakeupEvery == 64 && d.observeTCP && d.observeUDP)
        #expect(d.dropReasonMin == 2 && d.l7MaxMisses == 8 && !d.identityOptionExpected)
        let dv = Dictionary(uniqueKeysWithValues: d.entries.map { (Int($0.key.rawValue), $0.value) })
        #expect(dv[Int(RL_CFG_L7_DENY_MASK.rawValue)] == 1 << 7 && dv[Int(RL_CFG_FILTERS_ACTIVE.rawValue)] == 0)
    }

    @Test func interfaceAndRulesPositionsAreRecorded() throws {
        let c = try parse(full)
        #expect(c.position(of: "interfaces[1]") == "c.yaml:3: interfaces[1]")
        #expect(c.position(of: "rules").hasPrefix("c.yaml:5: rules"), "\(c.position(of: "rules"))")
    }

    @Test func minimalConfigTakesDefaults() throws {
        let c = try parse("version: 1\nsegments: {root: /seg}\n")
        #expect(c.windowSeconds == 60 && c.memoryCapBytes == 64 << 20 && c.diskBudgetBytes == 0)
        #expect(c.ringBufferBytes == 4 << 20)
        #expect(!c.host.isEmpty)
    }

    @Test(arguments: [
        ("window_seconds: 60", "window_seconds: 7", 16, "segments.window_seconds: must divide 3600"),
        ("max_segment_size: 64MiB", "max_segment_size: lots", 17, "segments.max_segment_size: 'lots' is not a size"),
        ("{action: deny, port: 22, protocol: tcp}", "{action: deny, port: 70000}", 8, "filters[1].port: must be in 1...65535"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: allow, cidr: 198.18.0.0/33}", 7, "filters[0].cidr:"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: permit, cidr: 198.18.0.0/15}", 7, "filters[0].action: expected allow or deny"),
        ("host: host1", "host: host/1", 2, "host: host ids are"),
        ("id: 101}", "id: 0}", 13, "services[0].id: must be in"),
        ("memory_cap: 64MiB", "memory_capp: 64MiB", 21, "unknown key 'memory_capp'"),
        ("ring_buffer_size: 16MiB", "ring_buffer_size: 3MiB", 11, "ring_buffer_size: must be a power of two"),
        ("ring_buffer_size: 16MiB", "ring_buffer_size: 128KiB", 11, "ring_buffer_size: must be between 262144 and 1073741824"),
        ("ring_buffer_size: 16MiB", "ring_buffer_size: 2GiB", 11, "ring_buffer_size: must be between"),
        ("src_classid: \"10:1\"", "src_classid: \"zz\"", 9, "is not a classid"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: allow, cidr: 198.18.0.0/15, port: 80}", 7, "names one dimension"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: allow, l7: tls}", 7, "can only deny"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: deny, l7: gopher}", 7, "unknown l7 protocol 'gopher'"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: allow, cidr: 198.19.210.1/24}", 7, "has host bits set; the block is 198.19.210.0/24"),
        ("{action: allow, cidr: 198.18.0.0/15}", "{action: allow, cidr: \"2001:db8::1/32\"}", 7, "the block is 2001:db8::/32"),
        ("max_segment_size: 64MiB", "max_segment_size: 64MiB\n  file_mode: \"0440\"", 18, "segments.file_mode: the owner needs read and write"),
        ("max_segment_size: 64MiB", "max_segment_size: 64MiB\n  dir_mode: \"0999\"", 18, "segments.dir_mode: '0999' is not a permission mode"),
        ("max_segment_size: 64MiB", "max_segment_size: 64MiB\n  min_free: lots", 18, "segments.min_free: 'lots' is not a size"),
        ("observe: [udp]", "observe: [sctp]", 22, "kernel.observe[0]: expected tcp or udp"),
        ("observe: [udp]", "observe: []", 22, "kernel.observe: name tcp, udp or both"),
        ("flush_interval_ms: 250", "flush_interval_ms: 0", 22, "kernel.flush_interval_ms: must be in 1...3600000"),
        ("l7_max_misses: 4", "l7_max_misses: 0", 22, "kernel.l7_max_misses: must be in 1...255"),
        ("rate_bursts: {l7_call: 500}", "rate_bursts: {l7_call: -1}", 22, "kernel.rate_bursts.l7_call: records"),
        ("ring_wakeup_every: 16", "ring_wakeup_every: 16, wakeup: 1", 22, "unknown key 'wakeup'"),
    ])
    func badFieldsAreNamedWithTheirLine(_ find: String, _ replace: String, _ line: Int, _ message: String) {
        let e = #expect(throws: ConfigError.self) { try parse(full.replacingOccurrences(of: find, with: replace)) }
        #expect(e?.line == line, "\(e?.description ?? "")")
        #expect(e?.description.contains(message) == true, "\(e?.description ?? "")")
    }

    @Test func missingSegmentRootAndWrongVersion() {
        let e = #expect(throws: ConfigError.self) { try parse("version: 1\n") }
        #expect(e?.field == "segments")
        let v = #expect(throws: ConfigError.self) { try parse("version: 2\nsegments: {root: /x}\n") }
        #expect(v?.message.contains("unsupported collector config version 2") == true)
        #expect(throws: ConfigError.self) { try CollectorConfig.load(path: "/nonexistent.yaml") }
    }
}
