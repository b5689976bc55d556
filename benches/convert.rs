//! The converter alone, on one core: Postgres COPY text rows in, MySQL
//! LOAD DATA text out, for rows shaped like real tables. Reports MB/s of
//! COPY text converted (`cargo bench --bench convert`).

#![expect(
    clippy::unwrap_used,
    reason = "a broken benchmark input should stop it"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pg2dolt::column_types::{MySqlType, PgKind};
use pg2dolt::convert::converter::Converter;
use pg2dolt::convert::row::RowConverter;
use pg2dolt::mask::{Generator, Mask, MaskKey};

/// `rows` COPY text lines made by `row`, and the converter for them.
fn workload(
    columns: &[(PgKind, &str)],
    rows: usize,
    row: impl Fn(usize) -> String,
) -> (Vec<u8>, RowConverter) {
    let converters = columns
        .iter()
        .map(|(kind, target)| Converter::choose(kind, &MySqlType::parse(target)).unwrap())
        .collect();
    let mut text = Vec::new();
    for index in 0..rows {
        text.extend_from_slice(row(index).as_bytes());
        text.push(b'\n');
    }
    (text, RowConverter::new(converters))
}

fn convert_all(text: &[u8], converter: &RowConverter, out: &mut Vec<u8>) {
    out.clear();
    // Lines are found as the copy finds them (memchr), then converted.
    let mut rest = text;
    while let Some(end) = memchr::memchr(b'\n', rest) {
        converter.convert_row(&rest[..end], out).unwrap();
        rest = &rest[end + 1..];
    }
}

/// A customers table, unmasked, and the same with its personal columns
/// masked (email, full_name, phone, text, date_shift: the generators are
/// keyed hashing, one HMAC-SHA-256 per value, more for long text).
fn customers() -> (Vec<u8>, RowConverter) {
    workload(
        &[
            (PgKind::Integer, "int"),
            (PgKind::Text, "varchar(100)"),
            (PgKind::Text, "varchar(100)"),
            (PgKind::Text, "varchar(30)"),
            (PgKind::Date, "date"),
            (PgKind::Text, "text"),
        ],
        20_000,
        |index| {
            format!(
                "{index}\tperson{index}@mail.example\tPerson Number {index}\t+47 {}\t1980-01-{:02}\tlikes cycling and {index} other things",
                40_000_000 + index,
                index % 28 + 1
            )
        },
    )
}

fn masked_customers() -> (&'static str, (Vec<u8>, RowConverter)) {
    let (text, converter) = customers();
    let key = MaskKey::new(b"a benchmark key of 32 bytes.....").unwrap();
    let masks = [
        None,
        Some(Generator::Email),
        Some(Generator::FullName),
        Some(Generator::Phone),
        Some(Generator::DateShift(30)),
        Some(Generator::Text),
    ]
    .into_iter()
    .map(|generator| generator.map(|generator| Mask::new(generator, Some(key.clone()), None)))
    .collect();
    (
        "customers (masked: 5 of 6 columns)",
        (text, converter.masking(masks)),
    )
}

fn bench(criterion: &mut Criterion) {
    let filler = " ".repeat(84);
    let cases = [
        (
            "pgbench_accounts",
            workload(
                &[
                    (PgKind::Integer, "int"),
                    (PgKind::Integer, "int"),
                    (PgKind::Integer, "int"),
                    (PgKind::Char, "char(84)"),
                ],
                20_000,
                |index| {
                    format!(
                        "{index}\t{}\t{}\t{filler}",
                        index / 100_000 + 1,
                        index % 977
                    )
                },
            ),
        ),
        (
            "orders (mixed types)",
            workload(
                &[
                    (PgKind::BigInt, "bigint"),
                    (PgKind::Text, "varchar(200)"),
                    (PgKind::Numeric, "decimal(12,2)"),
                    (PgKind::Timestamptz, "datetime(6)"),
                    (PgKind::Boolean, "tinyint(1)"),
                    (PgKind::Uuid, "binary(16)"),
                    (PgKind::Jsonb, "json"),
                ],
                20_000,
                |index| {
                    format!(
                        "{index}\tCustomer {index} \\\\ \"quoted\"\\tand tabbed\t{}.{:02}\t2024-0{}-1{} 12:34:56.{:06}+00\t{}\t{:08x}-4455-6677-8899-aabbccddeeff\t{{\"sku\": \"A-{index}\", \"qty\": {}}}",
                        index * 7 % 100_000,
                        index % 100,
                        index % 9 + 1,
                        index % 9,
                        index % 1_000_000,
                        if index % 2 == 0 { "t" } else { "f" },
                        index,
                        index % 5
                    )
                },
            ),
        ),
        ("customers (not masked)", customers()),
        (
            "blobs (bytea 1 KiB)",
            workload(
                &[(PgKind::Integer, "int"), (PgKind::Bytea, "blob")],
                2_000,
                |index| {
                    let hex: String = (0..1024_usize)
                        .map(|byte| ((byte + index) % 256) as u8)
                        .fold(String::new(), |mut hex, byte| {
                            let _ = write!(hex, "{byte:02x}");
                            hex
                        });
                    format!("{index}\t\\\\x{hex}")
                },
            ),
        ),
    ];
    let mut cases = cases.to_vec();
    cases.push(masked_customers());
    let mut group = criterion.benchmark_group("convert");
    for (name, (text, converter)) in &cases {
        let mut out = Vec::with_capacity(text.len() * 2);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(*name, |bencher| {
            bencher.iter(|| convert_all(black_box(text), converter, &mut out));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
