import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Fetch, describe and split datasets.",
                                                    subcommands: [Fetch.self, Stats.self, SplitFiles.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a known dataset into the cache and verify its checksums.")
        @Argument(help: "Dataset name (\(KnownDataset.allCases.map(\.rawValue).joined(separator: ", "))).") var name: String
        @Option(help: "Cache root (default $TANDEM_DATA or ./data).") var dataDir: String?
        func run() throws {
            guard let known = KnownDataset(rawValue: name) else {
                fail("unknown dataset '\(name)'; known: \(KnownDataset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let dir = reportingErrors { try DatasetFetcher.fetch(known, cacheRoot: dataDir ?? KnownDataset.cacheRoot) { print($0) } }
            print(dir)
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print users, items, interactions, density and popularity skew.")
        @OptionGroup var flags: ConfigFlags
        func run() throws {
            let cfg = resolveConfig(file: nil, flags: flags)
            let ds = reportingErrors { try cfg.loadDataset { print($0) } }
            let all = ds.split.train + ds.split.valid + ds.split.test
            print("dataset       \(ds.name)")
            print(DataStats(users: ds.numUsers, items: ds.numItems, interactions: all).report)
            print("split         train \(ds.split.train.count) / valid \(ds.split.valid.count) / test \(ds.split.test.count) (\(cfg.data.split.spec))")
            for (side, f) in [("user", ds.userFeatures), ("item", ds.itemFeatures)] {
                guard let f else { continue }
                print("\(side) fields   " + f.fields.map { "\($0.name) (\($0.kind.rawValue)\($0.kind == .numeric ? "" : ", \($0.vocabulary.count) values"))" }.joined(separator: ", "))
            }
        }
    }

    struct SplitFiles: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "split",
            abstract: "Write the split a config produces as train.tsv, valid.tsv, test.tsv (raw ids), for other tools.")
        @OptionGroup var flags: ConfigFlags
        @Option(help: "Output directory.") var out: String
        func run() throws {
            let cfg = resolveConfig(file: nil, flags: flags)
            let ds = reportingErrors { try cfg.loadDataset { print($0) } }
            reportingErrors { try ds.writeSplit(to: out) }
            print("wrote \(out)/train.tsv, valid.tsv, test.tsv")
        }
    }
}
