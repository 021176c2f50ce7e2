//! The `sluice-sql` handler against DataFusion used directly, on the same ~1 GB Parquet input
//! (a bench command: each side runs a few times and the best time counts). Run with
//!
//! ```sh
//! cargo bench -p sluice-integrations --bench sql
//! ```
//!
//! The input is generated once under the temp directory (`SLUICE_BENCH_PARQUET` overrides the
//! path; `SLUICE_BENCH_ROWS` the row count, 150 M by default ≈ 1 GB).

use std::time::{Duration, Instant};

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde_json::json;

const QUERY: &str = "SELECT region, count(*) AS orders, sum(amount) AS revenue, avg(qty) AS qty \
                     FROM sales WHERE qty > 2 GROUP BY region ORDER BY region";

async fn generate(path: &std::path::Path, rows: u64) {
    let ctx = SessionContext::new();
    // Pseudo-random but repeatable columns derived from the row number, so the file does not
    // compress to nothing.
    let sql = format!(
        "SELECT value AS id, \
                concat('region-', CAST(value * 7919 % 50 AS VARCHAR)) AS region, \
                CAST(value * 104729 % 100000 AS DOUBLE) / 100.0 AS amount, \
                CAST(value * 31 % 10 AS BIGINT) AS qty, \
                value * 2654435761 % 1000000007 AS customer \
         FROM range({rows})"
    );
    let df = ctx.sql(&sql).await.expect("generator query");
    df.write_parquet(
        path.to_str().expect("utf-8 path"),
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await
    .expect("write the input");
}

async fn direct(input: &str, output: &str) -> Duration {
    let started = Instant::now();
    let ctx = SessionContext::new();
    ctx.register_parquet("sales", input, ParquetReadOptions::default())
        .await
        .expect("register");
    let df = ctx.sql(QUERY).await.expect("plan");
    df.write_parquet(
        output,
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await
    .expect("query runs");
    started.elapsed()
}

async fn through_sluice(input: &str, output: &str) -> Duration {
    let started = Instant::now();
    let task = json!({"query": QUERY, "inputs": {"sales": input}, "output": output});
    let reference = sluice_integrations::sql::run(&task, &Default::default())
        .await
        .expect("sluice-sql runs");
    assert!(
        reference["rows"].as_u64().is_some_and(|n| n > 0),
        "{reference}"
    );
    started.elapsed()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench -p sluice-integrations --bench sql`");
        return;
    }
    let rows: u64 = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(150_000_000);
    let path = std::env::var("SLUICE_BENCH_PARQUET")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join(format!("sluice-bench-{rows}.parquet")));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if !path.exists() {
            let started = Instant::now();
            generate(&path, rows).await;
            println!("generated {} in {:?}", path.display(), started.elapsed());
        }
        let bytes = std::fs::metadata(&path).expect("input").len();
        let input = path.to_str().expect("utf-8 path").to_string();
        let out_dir = std::env::temp_dir();
        let (mut best_direct, mut best_sluice) = (Duration::MAX, Duration::MAX);
        // Alternate the two so both see the same page cache.
        for round in 0..3 {
            let d = direct(&input, &out_dir.join(format!("sluice-bench-direct-{round}.parquet")).display().to_string()).await;
            let s = through_sluice(&input, &out_dir.join(format!("sluice-bench-sluice-{round}.parquet")).display().to_string()).await;
            println!("round {round}: DataFusion direct {d:?}, sluice-sql {s:?}");
            best_direct = best_direct.min(d);
            best_sluice = best_sluice.min(s);
        }
        println!(
            "SQL over {:.2} GB Parquet ({rows} rows): DataFusion direct {best_direct:?}, sluice-sql {best_sluice:?} ({:+.1} %)",
            bytes as f64 / 1e9,
            (best_sluice.as_secs_f64() / best_direct.as_secs_f64() - 1.0) * 100.0
        );
    });
}
