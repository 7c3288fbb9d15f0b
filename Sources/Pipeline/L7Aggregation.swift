import Aggregates
import CRedlineABI
import Enrichment

/// One host's share of issue 14's tables, fed call by call by the aggregation loop: `red_route`
/// and `dns_names` cells (names capped per service, `NameCap`), and the hop observations
/// `call_chains` joins across hosts in the merge stage. `HostAggregation` feeds it every call of
/// the partition (`CallAggregator`); the run reads `rows` and `observations` back.
struct L7Aggregation: CallAggregator {
    /// Per (callee service, protocol): the (domain, route) pairs; per client service: the DNS names.
    struct RouteOwner: Hashable, Comparable, Sendable {
        var service: Int32, proto: Int32
        static func < (a: Self, b: Self) -> Bool { (a.service, a.proto) < (b.service, b.proto) }
    }

    let wantRoutes, wantDNS, wantChains: Bool
    let scale: Int
    /// A route row and the local service of the sockets that saw it (the callee on the server
    /// side, the caller on the client side): completeness is charged per local service's class.
    struct LocalRouteKey: Hashable { var key: RedRoute.Key; var local: Int32 }
    /// Each row's cell, and the ends of one of its calls: every call of a row has the same loss
    /// class (protocol, observer, local service), which `finish` charges completeness by.
    var routes: [LocalRouteKey: (cell: REDCell, ends: CallEnds)] = [:]
    var dns: [DNSNames.Key: (cell: REDCell, ends: CallEnds)] = [:]
    var routeCap: NameCap<RouteOwner>
    var dnsCap: NameCap<Int32>
    /// Calls of protocols that carry trace context (HTTP/1, Thrift) whose request prefix the
    /// collector parsed, with or without a trace id.
    var observations: [HopObservation] = []
    /// red_route and dns_names rows with their completeness, filled by `finish`.
    var rows = TableRows()
    let host: String
    /// Placeholder and mnemonic name ids, interned once.
    let other, noResponse: Int32
    /// A call's red_route names, computed once per distinct record text: calls repeat a few
    /// hosts and paths, and templating, validation and interning per call cost more than the
    /// rest of its aggregation. Keyed by protocol, the cut flag and the raw host and route bytes.
    struct RouteNames { var pair: String; var domain, route: Int32 }
    var routeNames: [[UInt8]: RouteNames] = [:]
    let http1 = UInt8(RL_L7_HTTP1.rawValue), dnsProto = UInt8(RL_L7_DNS.rawValue), thrift = UInt8(RL_L7_THRIFT.rawValue)
    /// The details of the segment being read, which `HostProcessor` fills before it hands over
    /// the calls that name them (records-v2.md); nil reads every call as having no names.
    var details: CallDetailJoin?

    init(tables: Set<String>, routeCap: Int, histogramScale: Int, host: String, names: inout NamePool) {
        self.host = host
        wantRoutes = tables.contains(RedRoute.name)
        wantDNS = tables.contains(DNSNames.name)
        wantChains = tables.contains(CallChainsTable.name) || tables.contains(ChainPaths.name)
        scale = histogramScale
        // A (domain, route) pair of placeholders only, or a placeholder DNS name, is a reject: kept as its own row.
        self.routeCap = NameCap(limit: routeCap) { pair in
            pair.split(separator: "\u{0}", omittingEmptySubsequences: false).allSatisfy { RouteTemplate.rejects.contains(String($0)) }
        }
        dnsCap = NameCap(limit: routeCap) { RouteTemplate.rejects.contains($0) }
        other = names.id(RouteTemplate.other)
        noResponse = names.id("none")
    }

    var isActive: Bool { wantRoutes || wantDNS || wantChains }

    /// Adds one call (`CallAggregator`).
    mutating func add(_ c: rl_l7_call, _ ends: CallEnds, names: inout NamePool) {
        let (caller, callee, proto, observer, isServer) = (ends.caller, ends.callee, ends.proto, ends.observer, ends.isServer)
        let bucket = ends.bucketStart, utcStart = ends.utcNanos
        func fill(_ cell: inout REDCell) { cell.add(call: c) }
        // A call without a detail (none written, or lost with a damaged block) has empty names
        // and no trace: it is counted under the placeholders (records-v2.md).
        let d = details?.detail(c.detail_seq) ?? rl_call_detail()
        // Raw bytes up to the NUL: a record's text is never trusted to be UTF-8 (records-v2.md).
        let hostBytes = withUnsafeBytes(of: d.host) { b in Array(b.prefix { $0 != 0 }) }
        let routeBytes = withUnsafeBytes(of: d.route) { b in Array(b.prefix { $0 != 0 }) }
        let cut = c.flags & UInt8(RL_CALL_TRUNCATED.rawValue) != 0
        if wantRoutes {
            let cacheKey = [c.l7_proto, cut ? 1 : 0] + hostBytes + [0] + routeBytes
            let resolved: RouteNames
            if let r = routeNames[cacheKey] {
                resolved = r
            } else {
                resolved = Self.routeNames(c, host: hostBytes, route: routeBytes, cut: cut, names: &names)
                // Bounded like the cap's tracking: a scan of distinct paths is resolved call by call.
                if routeNames.count < routeCap.trackLimit * 4 { routeNames[cacheKey] = resolved }
            }
            let owner = RouteOwner(service: callee, proto: proto)
            let folded = routeCap.admit(owner, resolved.pair) == RouteTemplate.other
            let key = RedRoute.Key(bucket: bucket, service: callee, proto: proto,
                                   domain: folded ? other : resolved.domain, route: folded ? other : resolved.route,
                                   rule: Int32(c.req_rule), observer: observer)
            fill(&routes[LocalRouteKey(key: key, local: ends.local), default: (REDCell(scale: scale), ends)].cell)
        }
        if wantDNS && c.l7_proto == dnsProto && !isServer {
            let queryName = RequestNames.recordName(routeBytes, truncated: cut)
            let queryType = RequestNames.recordName(hostBytes, truncated: false, uppercase: true)
            let admitted = dnsCap.admit(caller, queryName)
            let unpaired = c.flags & UInt8(RL_CALL_UNPAIRED.rawValue) != 0
            let key = DNSNames.Key(bucket: bucket, client: caller,
                                   queryName: admitted == RouteTemplate.other ? other : names.id(queryName),
                                   queryType: names.id(queryType),
                                   responseCode: unpaired ? noResponse : names.id(RequestNames.dnsResponseCodeName(c.status_code)))
            fill(&dns[key, default: (REDCell(scale: scale), ends)].cell)
        }
        if wantChains && (c.l7_proto == http1 || c.l7_proto == thrift) && c.flags & UInt8(RL_CALL_PREFIX_CAPTURED.rawValue) != 0 {
            let trace = withUnsafeBytes(of: d.trace_id) { TraceID(bytes: $0) }
            let span = withUnsafeBytes(of: d.span_id) { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
            let unpaired = c.flags & UInt8(RL_CALL_UNPAIRED.rawValue) != 0
            observations.append(HopObservation(
                traceID: trace, spanID: span, caller: names.name(caller), callee: names.name(callee),
                side: isServer ? .server : .client, clientEndpoint: clientEndpoint(c, isServer: isServer), host: self.host, proto: names.name(proto), startNanos: utcStart,
                durationNanos: unpaired ? nil : Int64(clamping: c.duration_ns), statusClass: c.status_class,
                statusCode: c.status_code))
        }
    }

    /// The (domain, route) names of a call (red_route.md, "Templating"), interned.
    static func routeNames(_ c: rl_l7_call, host hostBytes: [UInt8], route routeBytes: [UInt8], cut: Bool,
                           names: inout NamePool) -> RouteNames {
        let domainName: String, routeName: String
        switch UInt32(c.l7_proto) {
        case RL_L7_HTTP1.rawValue:
            domainName = RouteTemplate.domain(hostBytes)
            // Only a route that fills the field was cut (the flag also covers the host).
            let routeCut = cut && routeBytes.count >= MemoryLayout.size(ofValue: rl_call_detail().route) - 1
            routeName = RouteTemplate.template(routeBytes, truncated: routeCut)
        case RL_L7_DNS.rawValue:
            // Record contract proposed in dns_names.md: the query name in `route`, its type in `host`.
            domainName = RequestNames.recordName(routeBytes, truncated: cut)
            routeName = RequestNames.recordName(hostBytes, truncated: false, uppercase: true)
        default:
            // Redis (and any protocol whose command the collector records there): the command in `route`.
            domainName = RouteTemplate.none
            routeName = RequestNames.recordName(routeBytes, truncated: cut, uppercase: true)
        }
        return RouteNames(pair: domainName + "\u{0}" + routeName, domain: names.id(domainName), route: names.id(routeName))
    }

    /// `address:port` of the connection's client end.
    func clientEndpoint(_ c: rl_l7_call, isServer: Bool) -> String {
        let a = isServer ? withUnsafeBytes(of: c.raddr) { NetworkAddress(bytes: $0) } : withUnsafeBytes(of: c.laddr) { NetworkAddress(bytes: $0) }
        return "\(a):\(isServer ? c.rport : c.lport)"
    }

    /// Folds every name the caps did not keep into `{other}` (the K most called per owner stay)
    /// and hands the rows over with their completeness (`completeness(weight, proto, observer,
    /// local service, bucket start)`); sorts the observations as partials store them.
    mutating func finish(names: inout NamePool,
                         completeness: (_ weight: UInt64, _ ends: CallEnds, _ bucketStart: Int64) -> Completeness) {
        let keptRoutes = routeCap.kept()
        var routeRows = Accumulator<RedRoute.Key, Row<REDCell>>()
        for (lk, row) in routes {
            var k = lk.key
            let pair = names.name(k.domain) + "\u{0}" + names.name(k.route)
            if k.domain != other || k.route != other, keptRoutes[RouteOwner(service: k.service, proto: k.proto)]?.contains(pair) != true {
                k.domain = other
                k.route = other
            }
            routeRows.merge(k, Row(cell: row.cell, completeness: completeness(row.cell.requests, row.ends, k.bucket)))
        }
        let keptNames = dnsCap.kept()
        var dnsRows = Accumulator<DNSNames.Key, Row<REDCell>>()
        for (k0, row) in dns {
            var k = k0
            if k.queryName != other, keptNames[k.client]?.contains(names.name(k.queryName)) != true { k.queryName = other }
            dnsRows.merge(k, Row(cell: row.cell, completeness: completeness(row.cell.requests, row.ends, k.bucket)))
        }
        rows.update(RedRoute.self) { $0.merge(routeRows) }
        rows.update(DNSNames.self) { $0.merge(dnsRows) }
        routes = [:]
        dns = [:]
        observations.sort(by: HopObservation.storageOrder)
    }
}
