#pragma once
/// `rdns-milter --check IP --trace`: the delegation paths of the names the check asked about,
/// the cached view beside the authoritative one, and whose side must act.

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rdns/cli/check.h"
#include "rdns/dns/trace.h"

namespace rdns::cli {

/// The questions --trace follows for a report: the PTR name, the A (AAAA for an IPv6 client) of
/// each PTR name, the HELO domain's A, AAAA and MX, and each SPF TXT query made; no repeats.
[[nodiscard]] std::vector<std::pair<std::string, dns::RrType>> trace_questions(
    const Report& report);

/// Traces trace_questions(report) into report.traces.
void add_traces(Report& report, dns::Resolver& resolver, std::vector<dns::StubZone> stubs,
                dns::TraceLimits limits = {});

/// What the traces add to diagnose(): a cached view that differs from the authoritative one
/// (party receiver), a broken delegation (the zone's owner), and the exact record to add when
/// the authoritative servers confirm it missing (PTR: sender-isp; A, TXT: sender-domain).
[[nodiscard]] std::vector<Diagnosis> trace_findings(const Report& report);

/// The text part of --trace: each path, the two views, the chain, then the verdict paragraph
/// (diagnose() and trace_findings()). Prints nothing without traces.
void print_trace_text(std::ostream& out, const Report& report);

/// checks.iprev.trace, checks.helo.trace, checks.spf.trace and trace_verdict. Adds nothing
/// without traces.
void add_trace_json(nlohmann::json& json, const Report& report);

/// One trace as JSON (per zone, per server).
[[nodiscard]] nlohmann::json trace_json(const dns::Trace& trace);

}  // namespace rdns::cli
