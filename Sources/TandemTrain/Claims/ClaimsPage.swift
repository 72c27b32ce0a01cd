import Foundation
import TandemReport
import TandemEval

/// One verdict of the report: a comparison of two settings on one metric, paired by seed.
public struct ClaimFinding: Sendable {
    public var claim: String
    public var dataset: String
    public var treatment: String, control: String
    public var metric: String
    /// How the effect is judged: relative to the control, or in the metric's own units (`MetricKey.scale`).
    public var scale: EffectScale = .onePercent
    public var effect: Effect?
    /// The effect over the pilot's seeds alone (`ClaimSettings.seeds`): what the power calculation reads.
    public var pilot: Effect?
    public var verdict: Verdict?
    /// One sentence, written for the verdict from the numbers (or saying why there is none).
    public var reading: String
    /// The settings whose runs it compares, when not just treatment and control (a difference of two gains).
    public var comparedLabels: [String]? = nil

    /// The labelled settings behind it: extra seeds for it run for each of them.
    public var labels: [String] { comparedLabels ?? [treatment, control] }
}

extension ClaimFinding {
    /// An effect as the page prints it: the difference, with its share of the control only on a relative scale.
    public static func describe(_ e: Effect, scale: EffectScale) -> String {
        switch scale {
        case .relative: return String(format: "%+.4f (%+.1f%%)", e.mean, e.relative * 100)
        case .absolute: return String(format: "%+.4f", e.mean)
        }
    }

    /// What a power calculation from this pilot asks for (80% power to resolve it against the margin, at most `cap` seeds).
    static func describeSeedsToResolve(_ e: Effect, scale: EffectScale, cap: Int) -> String {
        guard let k = e.seedsToResolve(margin: scale.margin(e), cap: cap) else {
            return "resolving it would take more than \(cap) seeds if the pilot's effect and spread hold"
        }
        return "\(k) seeds would resolve it with 80% power if the pilot's effect and spread hold"
    }

    /// Why a finding with more seeds than its pilot is still inconclusive at `seeds`: after the seeds its own pilot asked
    /// for, or at seeds that came with another comparison's request for the same settings (then what its pilot said).
    static func describeStillInconclusive(seeds: Int, pilot p: Effect, scale: EffectScale, cap: Int) -> String {
        let verdict = Verdict(p, scale: scale), asked = p.seedsToResolve(margin: scale.margin(p), cap: cap)
        if verdict == .inconclusive && asked == seeds { return "still, after the \(seeds) seeds its \(p.n)-seed pilot asked for" }
        let pilot = verdict != .inconclusive ? "was \(verdict.rawValue)" : "asked for " + (asked.map { "\($0)" } ?? "more than \(cap)")
        return "still, at \(seeds) seeds (run for another comparison of these settings; its \(p.n)-seed pilot \(pilot))"
    }

    /// The seeds column of the verdict table: what the row's pilot asked for, where the pilot was inconclusive.
    static func seedsColumn(_ f: ClaimFinding, cap: Int) -> String {
        guard let p = f.pilot, Verdict(p, scale: f.scale) == .inconclusive else { return "–" }
        return p.seedsToResolve(margin: f.scale.margin(p), cap: cap).map { "\($0)" } ?? "> \(cap)"
    }

    /// The equivalence margin in words.
    static func describeMargin(_ scale: EffectScale) -> String {
        switch scale {
        case .relative(let share): return String(format: "±%g%% of the control", share * 100)
        case .absolute(let units): return String(format: "±%.2g", units)
        }
    }
}

extension ClaimsReport {
    /// Metric values of a label's runs (lower-is-better metrics negated by the caller).
    func values(_ runs: [RunRecord], _ metric: MetricKey) -> [Double] {
        runs.map { r in
            if metric == .finalUniformity { return r.report.epochs.last { $0.uniformityItems != nil }?.uniformityItems ?? .nan }
            return r.report.test[metric.description] ?? r.report.geometry[metric.description] ?? .nan
        }
    }

    /// The finding for "treatment beats control on metric" (`lowerIsBetter`: the effect is control − treatment).
    func finding(_ claim: String, _ dataset: String, treatment: String, control: String, metric key: MetricKey,
                 lowerIsBetter: Bool = false, planned: [Planned]) -> ClaimFinding {
        let t = runs(dataset, treatment, in: planned), c = runs(dataset, control, in: planned)
        let seeds = Set(t.map(\.seed)).intersection(c.map(\.seed)).sorted()
        let metric = key.description
        var f = ClaimFinding(claim: claim, dataset: dataset, treatment: treatment, control: control, metric: metric,
                             scale: key.scale, reading: "")
        guard !seeds.isEmpty else {
            let why = [treatment, control].compactMap { failures[dataset]?[$0].map { "\($0)" } }.first
            f.reading = "On \(dataset), \(treatment) vs \(control) could not be compared: " + (why ?? "no finished runs for both")
            return f
        }
        let pick = { (rs: [RunRecord]) in self.values(seeds.compactMap { s in rs.first { $0.seed == s } }, key) }
        var tv = pick(t), cv = pick(c)
        if lowerIsBetter { (tv, cv) = (tv.map { -$0 }, cv.map { -$0 }) }  // the effect becomes control − treatment
        return judged(f, treatment: tv, control: cv, seeds: seeds, better: lowerIsBetter ? "lower (better)" : "higher")
    }

    /// A finding's effect, pilot effect, verdict and reading from paired values (`seeds[i]` behind the i-th pair).
    func judged(_ finding: ClaimFinding, treatment tv: [Double], control cv: [Double], seeds: [UInt64], better: String = "higher") -> ClaimFinding {
        var f = finding
        let (dataset, treatment, control, metric) = (f.dataset, f.treatment, f.control, f.metric)
        let e = Effect(treatment: tv, control: cv), v = Verdict(e, scale: f.scale)
        let pilotPairs = seeds.indices.filter { seeds[$0] < Self.baseSeed + UInt64(settings.seeds) }
        f.effect = e; f.verdict = v
        f.pilot = pilotPairs.isEmpty ? nil : Effect(treatment: pilotPairs.map { tv[$0] }, control: pilotPairs.map { cv[$0] })
        let size = ClaimFinding.describe(e, scale: f.scale)
        let ci = e.n > 1 ? String(format: "[%+.4f, %+.4f]", e.lower, e.upper) : "(one seed: no interval)"
        let margin = ClaimFinding.describeMargin(f.scale)
        switch v {
        case .negligible:
            f.reading = "On \(dataset), \(treatment) and \(control) differ by \(size) on \(metric), 95% interval \(ci) over \(e.n) seeds, inside \(margin): negligible here."
        case .supported:
            f.reading = "On \(dataset), \(treatment) gives \(better) \(metric) than \(control): \(size), 95% interval \(ci) over \(e.n) seeds, all above zero: supported here."
        case .contradicted:
            f.reading = "On \(dataset), \(treatment) is worse than \(control) on \(metric): \(size), 95% interval \(ci) over \(e.n) seeds, all below zero: contradicted here."
        case .inconclusive:
            let more: String
            if let p = f.pilot, p.n < e.n {
                more = ClaimFinding.describeStillInconclusive(seeds: e.n, pilot: p, scale: f.scale, cap: settings.seedCap)
            } else {
                more = ClaimFinding.describeSeedsToResolve(e, scale: f.scale, cap: settings.seedCap)
            }
            f.reading = "On \(dataset), \(treatment) vs \(control) on \(metric): \(size), 95% interval \(ci) over \(e.n) seeds spans zero and reaches past \(margin): inconclusive; \(more)."
        }
        return f
    }

    /// The label among `labels` with the best mean validation NDCG@20 over the pilot's seeds (settings are chosen on
    /// validation, never test; and by the pilot alone, so extra seeds never change which comparison is made).
    func bestOnValidation(_ dataset: String, _ labels: [String], planned: [Planned]) -> String? {
        labels.compactMap { l -> (String, Double)? in
            let rs = runs(dataset, l, in: planned).filter { $0.seed < Self.baseSeed + UInt64(settings.seeds) }
            guard !rs.isEmpty else { return nil }
            return (l, rs.map { $0.report.valid["ndcg@20"] ?? -.infinity }.reduce(0, +) / Double(rs.count))
        }.max { $0.1 < $1.1 }?.0
    }

    /// Mean and std of a metric per label, for plots.
    func meanStd(_ dataset: String, _ label: String, _ metric: MetricKey, planned: [Planned]) -> MeanStd? {
        let v = values(runs(dataset, label, in: planned), metric).filter(\.isFinite)
        return v.isEmpty ? nil : MeanStd(v)
    }

    /// A line with a ± std band over `points` (x, label), skipping labels without runs.
    func lineWithBand(_ name: String, dataset: String, points: [(x: Double, label: String)], metric: MetricKey,
                      planned: [Planned], colour: Int = 0) -> [Series] {
        let stats = points.compactMap { p in meanStd(dataset, p.label, metric, planned: planned).map { (p.x, $0) } }
        guard !stats.isEmpty else { return [] }
        let x = stats.map(\.0), mean = stats.map(\.1.mean), std = stats.map(\.1.std)
        let c = Series.palette[colour % Series.palette.count]
        return [Series("\(name) ± std", style: .band, x: x, y: zip(mean, std).map(+), lower: zip(mean, std).map(-), colour: c),
                Series(name, style: .line, x: x, y: mean, colour: c)]
    }

    /// The whole page from the cached runs.
    public func page(command: String, date: String) throws -> (ReportPage, [ClaimFinding]) {
        let planned = try plan()
        let parts = Self.claims.map { $0.sections(self, planned) }
        let findings = parts.flatMap(\.findings), sections = parts.flatMap(\.sections)
        let s = settings
        let summary = ReportPage.Section(id: "summary", title: "Verdicts", paragraphs: [
            "Effects are treatment − control on the test metric, paired by training seed (n seeds), with Student-t 95% intervals, "
            + "read against an equivalence margin: ±1% of the control's mean for ranking metrics, ±0.01 in its own units for "
            + "uniformity (a log-scale quantity, whose percentages mean nothing). Negligible: the whole interval lies inside the "
            + "margin; supported: otherwise, the interval is above zero; contradicted: otherwise, below zero; inconclusive: "
            + "the interval spans zero and reaches past the margin. Every setting first runs \(s.seeds) seeds (the pilot); a "
            + "comparison the pilot leaves inconclusive asks a power calculation for the seeds that resolve it (80% power, "
            + "Student-t, at most \(s.seedCap)) — fixed before any extra run — and gets them if they fit the extra-seed budget "
            + "(\(s.extraSeedMinutes > 0 ? String(format: "%.0f training minutes", s.extraSeedMinutes) : "none in this run"); "
            + "the Budget section lists every request). The pilot also makes every choice on validation, so extra seeds never "
            + "change which settings are compared.",
        ], table: (["claim", "dataset", "treatment", "control", "metric", "effect", "95% interval", "n", "verdict", "pilot asked for"],
                   findings.map { f in
            [f.claim, f.dataset, f.treatment, f.control, f.metric,
             f.effect.map { ClaimFinding.describe($0, scale: f.scale) } ?? "–",
             f.effect.map { $0.n > 1 ? String(format: "[%+.4f, %+.4f]", $0.lower, $0.upper) : "one seed" } ?? "–",
             f.effect.map { "\($0.n)" } ?? "–",
             f.verdict?.rawValue ?? "not run", ClaimFinding.seedsColumn(f, cap: s.seedCap)]
        }))
        let page = ReportPage(title: "Tandem: the contrastive view's claims, measured", subtitle: [
            "Made by `\(command)` on \(date); datasets: \(datasets.joined(separator: ", ")); \(s.seeds) training seeds per setting"
                + (s.quick ? "; quick mode (4 epochs per run, short grids): a smoke test, not evidence." : "."),
            "Every run's config and results: runs.jsonl beside this page.",
        ], sections: [summary] + sections + budgetSections(planned))
        return (page, findings)
    }

    /// Where the report's time goes: per dataset and claim, the pilot's runs, their epoch budget and their training
    /// time; then the extra seeds, and every inconclusive pilot's request for them.
    func budgetSections(_ planned: [Planned]) -> [ReportPage.Section] {
        let s = settings
        let parts = Self.claims.map { ($0.budgetName, $0.runs(s, 0).map(\.label)) }
        let isPilot = { (r: RunRecord) in r.seed < Self.baseSeed + UInt64(s.seeds) }
        var rows: [[String]] = [], allRuns = 0, allSeconds = 0.0
        for d in datasets {
            var seen = Set<String>(), total = 0.0
            for (part, labels) in parts + [("extra seeds (power)", parts.flatMap(\.1))] {
                // A config under two labels (MF at τ 0.2 is also in-batch B 1024) counts once, under its first claim.
                let extra = part == "extra seeds (power)"
                let rs = labels.flatMap { runs(d, $0, in: planned) }.filter { isPilot($0) != extra && seen.insert($0.key).inserted }
                let secs = rs.map(\.report.trainSeconds).reduce(0, +)
                total += secs
                rows.append([d, part, "\(rs.count)", "\(s.epochBudget(dataset: d))", String(format: "%.1f", secs / 60)])
            }
            rows.append([d, "all", "\(seen.count)", "", String(format: "%.1f", total / 60)])
            allRuns += seen.count; allSeconds += total
        }
        if datasets.count > 1 { rows.append(["all datasets", "all", "\(allRuns)", "", String(format: "%.1f", allSeconds / 60)]) }
        let pilot = planned.filter { $0.config.seed < Self.baseSeed + UInt64(s.seeds) }
        let requests = seedRequests(pilot)
        var power = ReportPage.Section(id: "power", title: "Extra seeds", paragraphs: [
            "Each comparison its \(s.seeds)-seed pilot leaves inconclusive, with the seeds a power calculation from the pilot asks "
            + "for (80% power to resolve it against its margin, at most \(s.seedCap)) and their estimated training time (the "
            + "pilot's time per run of both settings). Granted cheapest first while the total fits "
            + (s.extraSeedMinutes > 0 ? String(format: "%.0f minutes (--extra-seed-minutes)", s.extraSeedMinutes)
               : "the budget: this run gave none (--extra-seed-minutes 0)") + "."])
        power.table = (["claim", "dataset", "treatment", "control", "metric", "pilot seeds", "asked for", "est. minutes", "granted"],
                       requests.map { r in
            [r.claim, r.dataset, r.treatment, r.control, r.metric, "\(r.pilotSeeds)", r.asked.map { "\($0)" } ?? "> \(s.seedCap)",
             r.asked == nil ? "–" : String(format: "%.1f", r.minutes), r.granted ? "yes" : "no"]
        })
        let budget = ReportPage.Section(id: "budget", title: "Budget", paragraphs: [
            "Training time of the cached runs (evaluation between epochs included), per dataset and claim (the pilot's seeds; "
            + "the extra seeds of the next section in a row of their own). Runs early-stop "
            + "within their epoch budget (patience 10 on validation NDCG@20)."
            + (s.full || s.quick ? "" : " To keep its time down, the default sweep leaves out "
               + ClaimSettings.fullOnly.sorted().joined(separator: ", ") + ", and every item on catalogues of more than "
               + "\(ClaimSettings.exactSoftmaxMaxItems) items: --full runs them.")],
            table: (["dataset", "claim", "runs", "epoch budget", "training minutes"], rows))
        return [budget, power]
    }

    /// C1: more negatives per row.
    func negativesSection(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var findings: [ClaimFinding] = []
        var c1 = ReportPage.Section(id: "c1", title: "C1 · More negatives per row help")
        c1.paragraphs = ["MF (64-d, cosine, τ 0.2, logQ on sampled columns) with negatives from in-batch rows (B − 1 per row), "
            + "mixed in-batch + uniform, a MoCo queue, and every item (the exact softmax"
            + (s.full ? ")." : "; by default only on catalogues of at most \(ClaimSettings.exactSoftmaxMaxItems) items, whose cost it fits).")
            + " Verdict: every item against in-batch B 256 where it runs, else the setting with the most negatives per row."]
        for d in datasets {
            let runs = s.negativeRuns(items: (try? dataset(d).numItems) ?? 0)
            let pts = runs.map { (x: $0.negatives, label: $0.label) }
            c1.figures.append(Plot(title: "\(d): NDCG@20 vs negatives per row", xLabel: "negatives per row", yLabel: "test NDCG@20",
                                   xScale: .log, series: lineWithBand("NDCG@20", dataset: d, points: pts, metric: .ndcg20, planned: planned)
                                    + namedPoints(d, runs.map { ($0.label, $0.negatives) }, metric: .ndcg20, planned: planned)).svg)
            c1.figures.append(Plot(title: "\(d): tail Recall@20 vs negatives per row", xLabel: "negatives per row",
                                   yLabel: "test Recall@20 (tail items)", xScale: .log,
                                   series: lineWithBand("tail Recall@20", dataset: d, points: pts, metric: .tailRecall20, planned: planned)).svg)
            let timed = runs.compactMap { r -> (String, Double)? in
                let rs = self.runs(d, r.label, in: planned)
                let secs = rs.flatMap { $0.report.epochs.map(\.seconds) }
                return secs.isEmpty ? nil : (r.label, secs.reduce(0, +) / Double(secs.count))
            }
            c1.figures.append(Plot(title: "\(d): NDCG@20 vs seconds per epoch", xLabel: "seconds per training epoch", yLabel: "test NDCG@20",
                                   xScale: .log, series: namedPoints(d, timed, metric: .ndcg20, planned: planned)).svg)
            let f = finding("C1", d, treatment: mostNegatives(d), control: "in-batch B 256", metric: .ndcg20, planned: planned)
            findings.append(f); c1.paragraphs.append(f.reading)
        }
        return ([c1], findings)
    }

    /// C1's treatment on `dataset`: every item (the whole catalogue as negatives) where the sweep runs it, else the
    /// setting with the most negatives per row (a MoCo queue can hold more rows than a small catalogue has items, with
    /// repeats, so "most" is not the rule where every item runs).
    func mostNegatives(_ dataset: String) -> String {
        let runs = settings.negativeRuns(items: (try? self.dataset(dataset).numItems) ?? 0)
        if runs.contains(where: { $0.label == "every item" }) { return "every item" }
        return runs.max { $0.negatives < $1.negatives }?.label ?? "every item"
    }

    /// C2, the temperature, and C3, cosine against the dot product (the same runs).
    func temperatureSections(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var findings: [ClaimFinding] = []
        var c2 = ReportPage.Section(id: "c2", title: "C2 · The temperature matters")
        c2.paragraphs = ["MF with cosine similarity at τ ∈ {\(s.temperatures.map { "\($0)" }.joined(separator: ", "))}. Verdict: the τ "
            + "with the best validation NDCG@20 against τ 1. The second plot is the trained model's softmax over each user's negatives (items "
            + "not in their training set) at the run's τ: the share of its mass on the 10 highest-scoring ones, averaged over up to "
            + "2,048 users — how much a small τ concentrates the loss on hard negatives."]
        var mining = ReportPage.Section(id: "c2-mining", title: "C2 · With a small τ, mined hard negatives matter less")
        mining.paragraphs = ["The same MF at τ ∈ {\(s.miningTemperatures.map { "\($0)" }.joined(separator: ", "))} with and without "
            + "\(ClaimSettings.minedPerRow) hard negatives per row mined from the model's own ranking (ranks 101–500 of each user's "
            + "ranking, training items removed, refreshed every epoch: Facebook EBR's semi-hard negatives, ANCE's refresh) beside "
            + "the in-batch ones. Verdicts: mining against none at each τ (test NDCG@20); then the claim itself, that mining's "
            + "gain shrinks as τ falls: the gain at τ \(s.miningTemperatures.last!) minus the gain at τ \(s.miningTemperatures.first!), "
            + "paired by seed, against a margin of ±1% of the unmined runs' mean NDCG@20 at those two temperatures."]
        var c3 = ReportPage.Section(id: "c3", title: "C3 · L2 normalisation helps")
        c3.paragraphs = ["MF with cosine (L2-normalised) and dot-product scores at the same temperatures. Verdict: the best cosine "
            + "setting on validation against the best dot-product setting on validation."]
        for d in datasets {
            let cos = s.temperatures.map { (x: $0, label: s.label(similarity: "cosine", temperature: $0)) }
            let dot = s.temperatures.map { (x: $0, label: s.label(similarity: "dot", temperature: $0)) }
            c2.figures.append(Plot(title: "\(d): NDCG@20 vs τ (cosine)", xLabel: "temperature τ", yLabel: "test NDCG@20", xScale: .log,
                                   series: lineWithBand("cosine", dataset: d, points: cos, metric: .ndcg20, planned: planned)).svg)
            c2.figures.append(Plot(title: "\(d): softmax mass on the 10 hardest negatives", xLabel: "temperature τ",
                                   yLabel: "share of the negatives' softmax mass", xScale: .log,
                                   series: lineWithBand("cosine", dataset: d, points: cos, metric: .hardNegativeShare10, planned: planned)
                                    + lineWithBand("dot", dataset: d, points: dot, metric: .hardNegativeShare10, planned: planned,
                                                   colour: 1)).svg)
            c3.figures.append(Plot(title: "\(d): cosine vs dot product, per τ", xLabel: "temperature τ", yLabel: "test NDCG@20", xScale: .log,
                                   series: lineWithBand("cosine", dataset: d, points: cos, metric: .ndcg20, planned: planned)
                                    + lineWithBand("dot", dataset: d, points: dot, metric: .ndcg20, planned: planned, colour: 1)).svg)
            if let best = bestOnValidation(d, cos.map(\.label), planned: planned) {
                let control = s.label(similarity: "cosine", temperature: 1.0)
                var f = finding("C2", d, treatment: best, control: control, metric: .ndcg20, planned: planned)
                if best == control { f.reading = "On \(d), τ 1 itself is best on validation: contradicted here."; f.verdict = .contradicted }
                findings.append(f); c2.paragraphs.append(f.reading)
            }
            if let bc = bestOnValidation(d, cos.map(\.label), planned: planned), let bd = bestOnValidation(d, dot.map(\.label), planned: planned) {
                let f = finding("C3", d, treatment: bc, control: bd, metric: .ndcg20, planned: planned)
                findings.append(f); c3.paragraphs.append(f.reading)
            }
            let plain = s.miningTemperatures.map { (x: $0, label: s.label(similarity: "cosine", temperature: $0)) }
            let mined = s.miningTemperatures.map { (x: $0, label: s.miningLabel(temperature: $0)) }
            mining.figures.append(Plot(title: "\(d): NDCG@20 vs τ, with and without mining", xLabel: "temperature τ",
                                       yLabel: "test NDCG@20", xScale: .log,
                                       series: lineWithBand("in-batch", dataset: d, points: plain, metric: .ndcg20, planned: planned)
                                        + lineWithBand("in-batch + \(ClaimSettings.minedPerRow) mined", dataset: d, points: mined,
                                                       metric: .ndcg20, planned: planned, colour: 1)).svg)
            for (p, m) in zip(plain, mined) {
                let f = finding("C2 mining", d, treatment: m.label, control: p.label, metric: .ndcg20, planned: planned)
                findings.append(f); mining.paragraphs.append(f.reading)
            }
            if let f = miningGainShrinks(d, planned: planned) { findings.append(f); mining.paragraphs.append(f.reading) }
        }
        return ([c2, mining, c3], findings)
    }

    /// C2's second half on `dataset`: mining's gain (mined − unmined NDCG@20, per seed) at the largest τ minus its gain
    /// at the smallest, judged in absolute units against ±1% of the unmined runs' mean NDCG@20 at those temperatures.
    func miningGainShrinks(_ dataset: String, planned: [Planned]) -> ClaimFinding? {
        let s = settings
        let (low, high) = (s.miningTemperatures.first!, s.miningTemperatures.last!)
        let labels = [s.miningLabel(temperature: high), s.label(similarity: "cosine", temperature: high),
                      s.miningLabel(temperature: low), s.label(similarity: "cosine", temperature: low)]
        let rs = labels.map { runs(dataset, $0, in: planned) }
        let seeds = rs.map { Set($0.map(\.seed)) }.reduce(Set(rs[0].map(\.seed))) { $0.intersection($1) }.sorted()
        guard !seeds.isEmpty else { return nil }
        let v = rs.map { r in values(seeds.compactMap { seed in r.first { $0.seed == seed } }, .ndcg20) }
        let gainHigh = zip(v[0], v[1]).map(-), gainLow = zip(v[2], v[3]).map(-)
        let unmined = (v[1] + v[3]).reduce(0, +) / Double(v[1].count + v[3].count)
        let f = ClaimFinding(claim: "C2 mining", dataset: dataset, treatment: "mining's gain at τ \(high)",
                             control: "mining's gain at τ \(low)", metric: MetricKey.ndcg20.description,
                             scale: .absolute(0.01 * abs(unmined)), reading: "", comparedLabels: labels)
        return judged(f, treatment: gainHigh, control: gainLow, seeds: seeds)
    }

    /// C4: the self-supervised task on sparse data and tail items.
    func sslSection(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var findings: [ClaimFinding] = []
        var c4 = ReportPage.Section(id: "c4", title: "C4 · Self-supervised feature masking helps most on sparse data and tail items")
        let percents = { (fs: [Double]) in fs.map { "\(Int($0 * 100))%" }.joined(separator: ", ") }
        c4.paragraphs = ["The two-tower model with its item tower's self-supervised task on and off, in the Google setting (Yao et "
            + "al. 2021: a second batch of items drawn uniformly from the catalogue, two correlated feature masks of each, InfoNCE "
            + "between them, weight 0.1), trained on \(percents(s.fractions)) of the training interactions (the same validation "
            + "and test). Then the user tower's counterpart: the model with each user's last 20 training items as a history field, "
            + "with and without two views of that history (CL4SRec's crop or mask, the user id left out of both), on "
            + "\(percents(s.historyFractions)) of the data. The tail metric ranks tail items (the 80% least popular) among tail "
            + "items only: over the whole catalogue the tail hardly reaches a top 20 (tail Recall@20 is a few ten-thousandths "
            + "on Book-Crossing at 10% of the data), which would hide the effect the claim is about. Verdicts: tail Recall@20 "
            + "within the tail, on against off, at each fraction."]
        for d in datasets {
            let arms: [(name: String, fractions: [Double], label: (Bool, Double) -> String)] = [
                ("item SSL", s.fractions, s.sslLabel), ("history views", s.historyFractions, s.historyLabel)]
            for arm in arms {
                let cats = arm.fractions.map { "\(Int($0 * 100))% data" }
                let series = [false, true].map { on -> (name: String, values: [Double], errors: [Double]?) in
                    let cells = arm.fractions.map { meanStd(d, arm.label(on, $0), .withinTailRecall20, planned: planned) }
                    return ("\(arm.name) \(on ? "on" : "off")", cells.map { $0?.mean ?? .nan }, cells.map { $0?.std ?? 0 })
                }
                if series.contains(where: { $0.values.contains(where: \.isFinite) }) {
                    c4.figures.append(BarChart(title: "\(d): \(arm.name), tail Recall@20 within the tail", yLabel: "test Recall@20 (tail among tail)",
                                               categories: cats, series: series).svg)
                }
                for f in arm.fractions.reversed() {
                    let finding = finding("C4", d, treatment: arm.label(true, f), control: arm.label(false, f),
                                          metric: .withinTailRecall20, planned: planned)
                    findings.append(finding); c4.paragraphs.append(finding.reading)
                }
            }
        }
        return ([c4], findings)
    }

    /// C5: graph views and sparse users.
    func graphSection(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var findings: [ClaimFinding] = []
        var c5 = ReportPage.Section(id: "c5", title: "C5 · Graph contrastive views help sparse users")
        c5.paragraphs = ["LightGCN against its contrastive views (" + s.graphRuns().map(\.label).filter { $0 != "LightGCN" }.joined(separator: ", ")
            + (s.full ? "" : "; SGL's node-dropout and random-walk views run with --full")
            + "), each at its defaults, users split into thirds by their number of training interactions. "
            + "Verdicts: NDCG@20 of the sparsest third, each view against LightGCN. SimGCL's reading — that the gain comes from "
            + "the uniformity InfoNCE induces, not from the augmentation — can be checked against C6's plane."]
        for d in datasets {
            let groups = FullRankingEvaluator.UserGroup.allCases
            let series = s.graphRuns().map { run -> (name: String, values: [Double], errors: [Double]?) in
                let cells = groups.map { meanStd(d, run.label, .ndcg20(group: $0.key), planned: planned) }
                return (run.label, cells.map { $0?.mean ?? .nan }, cells.map { $0?.std ?? 0 })
            }
            if series.contains(where: { $0.values.contains(where: \.isFinite) }) {
                c5.figures.append(BarChart(title: "\(d): NDCG@20 by user activity", yLabel: "test NDCG@20",
                                           categories: groups.map { "\($0) users" }, series: series).svg)
            }
            for run in s.graphRuns() where run.label != "LightGCN" {
                let f = finding("C5", d, treatment: run.label, control: "LightGCN", metric: .sparseUsersNDCG20, planned: planned)
                findings.append(f); c5.paragraphs.append(f.reading)
            }
        }
        return ([c5], findings)
    }

    /// C6: the alignment–uniformity plane, and uniformity against the number of negatives.
    func uniformitySection(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var findings: [ClaimFinding] = []
        var c6 = ReportPage.Section(id: "c6", title: "C6 · Negatives keep embeddings uniform")
        c6.paragraphs = ["Wang & Isola's plane: each MF run's alignment (lower: positives closer) against its items' uniformity "
            + "(lower: more spread out), coloured by test NDCG@20, and item uniformity over training epochs with in-batch "
            + "negatives and with none (alignment alone). Verdicts (item uniformity, lower is better): in-batch B 1024 against "
            + "no negatives, at the last epoch each trained (early stopping would hand back the collapsing run's nearly random "
            + "start), and C1's treatment (every item where it runs, else the most negatives per row) against in-batch B 256 (at the best epoch)."]
        for d in datasets {
            let labels = s.negativeRuns(items: 0).map(\.label) + s.temperatureRuns().map(\.label)
            let rs = labels.flatMap { runs(d, $0, in: planned) }
                .filter { ($0.report.geometry["alignment"] ?? .nan).isFinite && ($0.report.geometry["uniformity_items"] ?? .nan).isFinite }
            if !rs.isEmpty {
                c6.figures.append(Plot(title: "\(d): alignment–uniformity", xLabel: "alignment (lower: closer positives)",
                                       yLabel: "item uniformity (lower: more uniform)", series: [
                    Series("MF runs", style: .points, x: rs.map { $0.report.geometry["alignment"]! },
                           y: rs.map { $0.report.geometry["uniformity_items"]! }, colourValues: rs.map { $0.report.test["ndcg@20"] ?? .nan }),
                ]).svg)
            }
            let curves = ["in-batch B 1024", s.noNegativesLabel].enumerated().flatMap { k, label in
                uniformityCurve(d, label, planned: planned, colour: k)
            }
            if !curves.isEmpty {
                c6.figures.append(Plot(title: "\(d): item uniformity over training", xLabel: "epoch",
                                       yLabel: "item uniformity (lower: more uniform)", series: curves).svg)
            }
            for (treatment, control, metric) in [("in-batch B 1024", s.noNegativesLabel, MetricKey.finalUniformity),
                                                 (mostNegatives(d), "in-batch B 256", .uniformityItems)] {
                let f = finding("C6", d, treatment: treatment, control: control, metric: metric, lowerIsBetter: true, planned: planned)
                findings.append(f); c6.paragraphs.append(f.reading)
            }
        }
        return ([c6], findings)
    }

    /// Item cold start: the feature towers on items they never saw (no verdict: a measurement).
    func coldStartSection(_ planned: [Planned]) -> (sections: [ReportPage.Section], findings: [ClaimFinding]) {
        let s = settings
        var cold = ReportPage.Section(id: "cold-start", title: "Item cold start")
        cold.paragraphs = ["10% of items held out of training and validation; each user's interactions with them are ranked among "
            + "those items only, scored from item features (their id rows are zeroed: an unseen id contributes nothing). References: "
            + "random ranking (exact expectation, K / held-out items) and feature popularity (each item scored by the mean training "
            + "count of warm items sharing its feature values; the same list for everyone)."]
        for d in datasets {
            let rs = runs(d, s.coldLabel, in: planned)
            guard !rs.isEmpty else {
                cold.paragraphs.append("On \(d): no cold-start runs (\(failures[d]?[s.coldLabel] ?? "none finished")).")
                continue
            }
            let stat = { (key: String) in MeanStd(rs.map { $0.report.test[key] ?? .nan }) }
            let model = stat("recall@20/cold_items"), random = stat("recall@20/cold_random")
            guard model.mean.isFinite, random.mean > 0 else {
                cold.paragraphs.append("On \(d): the model has no cold-start metrics (no item features to score unseen items from).")
                continue
            }
            let pop = stat("recall@20/cold_feature_pop")
            let names = ["random", "feature popularity", "two-tower"], values = [random, pop, model]
            cold.figures.append(BarChart(title: "\(d): Recall@20 on unseen items", yLabel: "test Recall@20 (held-out items)",
                                         categories: ["Recall@20"],
                                         series: zip(names, values).filter { $0.1.mean.isFinite }
                                            .map { (name: $0.0, values: [$0.1.mean], errors: [$0.1.std]) }).svg)
            let ratios = rs.map { ($0.report.test["recall@20/cold_items"] ?? .nan) / ($0.report.test["recall@20/cold_random"] ?? .nan) }
            let ratio = MeanStd(ratios)
            cold.paragraphs.append(String(format: "On %@, the two-tower model's Recall@20 over unseen items is %.4f ± %.4f, %.2f ± %.2f× "
                + "random ranking (%.4f)%@ over %d seeds.", d, model.mean, model.std, ratio.mean, ratio.std, random.mean,
                pop.mean.isFinite ? String(format: " and %.2f× feature popularity (%.4f)", model.mean / pop.mean, pop.mean) : "", rs.count))
        }
        return ([cold], [])
    }


    /// Item uniformity per evaluated epoch, mean ± std over the seeds that reached that epoch.
    func uniformityCurve(_ dataset: String, _ label: String, planned: [Planned], colour: Int) -> [Series] {
        let rs = runs(dataset, label, in: planned)
        var byEpoch: [Int: [Double]] = [:]
        for r in rs { for e in r.report.epochs { if let u = e.uniformityItems, u.isFinite { byEpoch[e.epoch, default: []].append(u) } } }
        let epochs = byEpoch.keys.sorted()
        guard !epochs.isEmpty else { return [] }
        let stats = epochs.map { MeanStd(byEpoch[$0]!) }, x = epochs.map(Double.init)
        let c = Series.palette[colour % Series.palette.count]
        let mean = stats.map(\.mean), std = stats.map(\.std)
        return [Series("\(label) ± std", style: .band, x: x, y: zip(mean, std).map(+), lower: zip(mean, std).map(-), colour: c),
                Series(label, style: .line, x: x, y: mean, colour: c)]
    }

    /// One marker per label at its x and its mean over seeds, each its own legend entry.
    func namedPoints(_ dataset: String, _ xs: [(label: String, x: Double)], metric: MetricKey, planned: [Planned]) -> [Series] {
        xs.enumerated().compactMap { k, p in
            meanStd(dataset, p.label, metric, planned: planned).map {
                Series(p.label, style: .points, x: [p.x], y: [$0.mean], colour: Series.palette[(k + 1) % Series.palette.count])
            }
        }
    }
}
