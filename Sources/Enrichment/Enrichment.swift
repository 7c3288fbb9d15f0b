/// Enrichment: metadata snapshots (pods, service map, CIDR → datacenter).
public enum EnrichmentVersion { public static let current = 1 }
