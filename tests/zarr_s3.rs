//! Zarr on object storage against real servers that each test starts on 127.0.0.1: moto's
//! S3 server, a proxy in front of it that fails requests (tests/interop/s3_proxy.py), and
//! Python's HTTP server. zarr-python (through s3fs) reads what we write to S3, and we read
//! what it writes.
//!
//! The servers run on the interop venv's Python (`$CHUNKWISE_ZARR_PYTHON`, with
//! `moto[server]` and `s3fs`); without it the tests are skipped, unless
//! `CHUNKWISE_REQUIRE_INTEROP=1`: then they fail. Without the `object-store` feature, only
//! the error that names the feature is checked.

#![allow(missing_docs)]

#[path = "common/zarr_util.rs"]
mod zarr_util;

#[cfg(not(feature = "object-store"))]
#[test]
fn without_the_feature_urls_name_it() {
    for url in ["s3://bucket/x.zarr", "https://example.org/x.zarr"] {
        let message = chunkwise::io::zarr::open(url, "a").unwrap_err().to_string();
        assert!(
            message.contains("object-store") && message.contains(url),
            "{message}"
        );
    }
}

#[cfg(feature = "object-store")]
#[path = "common/s3_util.rs"]
mod s3_util;
#[cfg(feature = "object-store")]
#[path = "common/spans.rs"]
mod spans;

#[cfg(feature = "object-store")]
mod s3 {
    use std::path::Path;

    use chunkwise::io::zarr::{
        self, Compression, Dataset, GroupOptions, OpenOptions, Store, WriteOptions, ZarrVersion,
    };
    use chunkwise::{Config, from_ndarray};
    use ndarray::s;

    use crate::s3_util::*;
    use crate::zarr_util::*;

    /// A moto server with the bucket `test`, and a store at `s3://test/<name>` on it.
    fn server_and_store(name: &str) -> Option<(std::path::PathBuf, Server, Store)> {
        let python = with_moto(python())?;
        let moto = moto(&python, &[]);
        create_bucket(moto.port, "test");
        let store = Store::from_url_with(&format!("s3://test/{name}"), &options(&moto.url()))
            .expect("store");
        Some((python, moto, store))
    }

    fn write_formula<T: Formula>(store: &Store, name: &str, shape: &[usize], o: &WriteOptions) {
        from_ndarray(&formula::<T>(shape), o.chunks.clone().unwrap())
            .unwrap()
            .to_zarr(store, name, o)
            .unwrap_or_else(|e| panic!("to_zarr {name}: {e}"));
    }

    fn check_formula<T: Formula>(store: &Store, name: &str, shape: &[usize]) {
        let expected = formula::<T>(shape);
        assert_same(&read_back::<T>(store, name), &expected, name);
        // Tiles that cut across stored chunks: each task reads several chunks at once.
        let tiles = OpenOptions {
            chunks: Some(vec![5; shape.len()].into()),
        };
        let x = zarr::open_with(store, name, &tiles)
            .unwrap()
            .into_typed::<T>()
            .unwrap();
        assert_same(
            &x.compute().unwrap(),
            &expected,
            &format!("{name} in tiles of 5"),
        );
    }

    /// (name, shape, chunks) of the arrays exchanged, one per element type.
    const SHAPES: [(&str, &[usize], &[usize]); 5] = [
        ("f64_2d", &[13, 9], &[4, 4]),
        ("f32_1d", &[23], &[5]),
        ("i32_3d", &[5, 6, 7], &[2, 4, 3]),
        ("u8_2d", &[10, 12], &[3, 5]),
        ("bool_2d", &[7, 11], &[3, 4]),
    ];

    fn write_all(store: &Store, version: ZarrVersion, shards: bool) {
        for (name, shape, chunks) in SHAPES {
            let mut o = WriteOptions::default()
                .version(version)
                .compression(Compression::Zstd { level: 3 })
                .chunks(chunks)
                .dimension_names(dim_names(shape.len()));
            if shards {
                o = o.shards(chunks.iter().map(|c| c * 2).collect::<Vec<_>>());
            }
            match name {
                "f64_2d" => write_formula::<f64>(store, name, shape, &o),
                "f32_1d" => write_formula::<f32>(store, name, shape, &o),
                "i32_3d" => write_formula::<i32>(store, name, shape, &o),
                "u8_2d" => write_formula::<u8>(store, name, shape, &o),
                _ => write_formula::<bool>(store, name, shape, &o),
            }
        }
    }

    fn check_all(store: &Store) {
        for (name, shape, _) in SHAPES {
            match name {
                "f64_2d" => check_formula::<f64>(store, name, shape),
                "f32_1d" => check_formula::<f32>(store, name, shape),
                "i32_3d" => check_formula::<i32>(store, name, shape),
                "u8_2d" => check_formula::<u8>(store, name, shape),
                _ => check_formula::<bool>(store, name, shape),
            }
        }
    }

    #[test]
    fn arrays_of_every_type_round_trip_through_s3_in_v2_and_v3() {
        let Some((_python, moto, _)) = server_and_store("unused") else {
            return;
        };
        for (path, version, shards) in [
            ("v2.zarr", ZarrVersion::V2, false),
            ("v3.zarr", ZarrVersion::V3, false),
            ("v3_sharded.zarr", ZarrVersion::V3, true),
        ] {
            let store =
                Store::from_url_with(&format!("s3://test/{path}"), &options(&moto.url())).unwrap();
            write_all(&store, version, shards);
            check_all(&store);
            // The group above the arrays lists them.
            let group = zarr::open_group(&store, "/").unwrap();
            assert_eq!(group.arrays().len(), SHAPES.len(), "{path}");
        }
    }

    /// Runs the helper script `name` of tests/interop with `args`; its output, once it
    /// has succeeded.
    fn checked_script(python: &Path, name: &str, args: &[&str]) -> Vec<u8> {
        let out = interop_script(python, name, args);
        assert!(
            out.status.success(),
            "{name} {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs tests/interop/s3_check.py `mode` against `url`.
    fn s3_check(python: &Path, mode: &str, endpoint: &str, url: &str, version: u8) {
        let version = version.to_string();
        checked_script(python, "s3_check.py", &[mode, endpoint, url, &version]);
    }

    /// Names that URLs percent-encode (non-ASCII, `%`, `[`, `~`, `#`, spaces).
    const ODD_NAMES: [&str; 6] = ["température", "q[0]", "x%y", "k~1", "a#b", "two words"];

    /// Runs tests/interop/s3_names.py (see there): what it prints, as JSON.
    fn s3_names(python: &Path, args: &[&str]) -> serde_json::Value {
        serde_json::from_slice(&checked_script(python, "s3_names.py", args)).unwrap_or_default()
    }

    /// Each name's values, as both sides write them: `arange(4) * (its index + 1)`.
    fn odd_values(k: usize) -> Vec<f64> {
        (0..4).map(|i| (i * (k + 1)) as f64).collect()
    }

    /// Arrays named [`ODD_NAMES`] (names that URLs percent-encode) in the local store
    /// `store`, holding [`odd_values`].
    fn write_odd_names(store: &Path) {
        for (k, name) in ODD_NAMES.iter().enumerate() {
            from_ndarray(&ndarray::Array1::from(odd_values(k)), [2])
                .unwrap()
                .to_zarr(store, name, &WriteOptions::default())
                .unwrap();
        }
    }

    /// Reads [`write_odd_names`]' arrays from `~user/données.zarr` of the HTTP server at
    /// `server`, by the URL's path as spelled and percent-encoded as a browser gives it.
    fn read_odd_names_over_http(server: &str) {
        for path in ["~user/données.zarr", "%7Euser/donn%C3%A9es.zarr"] {
            for (k, name) in ODD_NAMES.iter().enumerate() {
                let url = format!("{server}/{path}");
                let back = zarr::open(url.as_str(), name).unwrap().astype::<f64>();
                let back = back.compute().unwrap().into_raw_vec_and_offset().0;
                assert_eq!(back, odd_values(k), "{path} {name}");
            }
        }
    }

    /// Keys are stored as the names are spelled, as zarr-python, fsspec and the AWS tools
    /// store them (they were percent-encoded: `temp%C3%A9rature`), in the store's URL too.
    #[test]
    fn names_are_stored_as_spelled_on_s3() {
        let Some((python, moto, _)) = server_and_store("unused") else {
            return;
        };
        let endpoint = moto.url();
        let ours = "s3://test/données ~1.zarr";
        let store = Store::from_url_with(ours, &options(&endpoint)).unwrap();
        let mut dataset = Dataset::new();
        for (k, name) in ODD_NAMES.iter().enumerate() {
            let x = from_ndarray(&ndarray::Array1::from(odd_values(k)), [2]).unwrap();
            dataset = dataset.array(name, &x, WriteOptions::default());
        }
        dataset
            .to_zarr(&store, "/", &GroupOptions::default())
            .unwrap();
        let mut sorted = ODD_NAMES.map(String::from).to_vec();
        sorted.sort();
        let seen = s3_names(&python, &["read", &endpoint, ours]);
        assert_eq!(seen["arrays"], serde_json::json!(sorted), "{seen}");
        for (k, name) in ODD_NAMES.iter().enumerate() {
            assert_eq!(
                seen["values"][name],
                serde_json::json!(odd_values(k)),
                "{name}"
            );
        }

        // Overwriting `x%41` (erased first on S3) erases its own keys, not those of `xA`.
        let store = Store::from_url_with(ours, &options(&endpoint)).unwrap();
        let four = |k: f64| &from_ndarray(&ndarray::Array1::from(odd_values(0)), [2]).unwrap() * k;
        four(1.0)
            .to_zarr(&store, "xA", &WriteOptions::default())
            .unwrap();
        four(2.0)
            .to_zarr(&store, "x%41", &WriteOptions::default())
            .unwrap();
        let replace = WriteOptions::default().mode(zarr::WriteMode::Overwrite);
        four(3.0).to_zarr(&store, "x%41", &replace).unwrap();
        for (name, k) in [("xA", 1.0), ("x%41", 3.0)] {
            let back = zarr::open(&store, name).unwrap().astype::<f64>();
            let back = back.compute().unwrap().into_raw_vec_and_offset().0;
            let want: Vec<f64> = odd_values(0).iter().map(|v| v * k).collect();
            assert_eq!(back, want, "{name}");
        }

        let theirs = "s3://test/écrit [py].zarr";
        let mut args = vec!["write", endpoint.as_str(), theirs];
        args.extend(ODD_NAMES);
        s3_names(&python, &args);
        let store = Store::from_url_with(theirs, &options(&endpoint)).unwrap();
        let group = zarr::open_group(&store, "/").unwrap();
        assert_eq!(group.arrays(), sorted);
        for (k, name) in ODD_NAMES.iter().enumerate() {
            let back = group
                .array(name)
                .unwrap()
                .astype::<f64>()
                .compute()
                .unwrap();
            assert_eq!(back.into_raw_vec_and_offset().0, odd_values(k), "{name}");
        }
    }

    #[test]
    fn zarr_python_reads_what_we_write_to_s3_and_we_read_what_it_writes() {
        let Some((python, moto, _)) = server_and_store("unused") else {
            return;
        };
        for (version, number) in [(ZarrVersion::V2, 2), (ZarrVersion::V3, 3)] {
            let ours = format!("s3://test/ours_v{number}.zarr");
            let store = Store::from_url_with(&ours, &options(&moto.url())).unwrap();
            write_all(&store, version, false);
            s3_check(&python, "read", &moto.url(), &ours, number);

            let theirs = format!("s3://test/theirs_v{number}.zarr");
            s3_check(&python, "write", &moto.url(), &theirs, number);
            let store = Store::from_url_with(&theirs, &options(&moto.url())).unwrap();
            check_all(&store);
        }
    }

    #[test]
    fn missing_chunks_are_the_fill_value_and_missing_arrays_and_buckets_are_errors() {
        let Some((_python, moto, store)) = server_and_store("missing.zarr") else {
            return;
        };
        // No chunk is stored (all are the fill value), then only the first row of them.
        let o = WriteOptions::default().chunks([4, 4]).fill_value(-1.5);
        chunkwise::full::<f64>(&[12, 8], -1.5, [4, 4])
            .unwrap()
            .to_zarr(&store, "x", &o)
            .unwrap();
        assert!(read_back::<f64>(&store, "x").iter().all(|&v| v == -1.5));
        from_ndarray(&formula::<f64>(&[4, 8]), [4, 4])
            .unwrap()
            .to_zarr_region(&store, "x", &[0..4, 0..8], &Config::default())
            .unwrap();
        let back = read_back::<f64>(&store, "x");
        assert_same(
            &back.slice(s![0..4, ..]).to_owned().into_dyn(),
            &formula::<f64>(&[4, 8]),
            "written row",
        );
        assert!(back.slice(s![4.., ..]).iter().all(|&v| v == -1.5));

        let message = zarr::open(&store, "nothing").unwrap_err().to_string();
        assert!(
            message.contains("s3://test/missing.zarr/nothing"),
            "{message}"
        );

        let nobucket =
            Store::from_url_with("s3://no-such-bucket/x.zarr", &options(&moto.url())).unwrap();
        let message = zarr::open(&nobucket, "a").unwrap_err().to_string();
        assert!(message.contains("s3://no-such-bucket/x.zarr"), "{message}");
        let message = chunkwise::zeros::<f64>(&[4], [4])
            .unwrap()
            .to_zarr(&nobucket, "a", &WriteOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("s3://no-such-bucket/x.zarr") && message.contains("NoSuchBucket"),
            "{message}"
        );
    }

    #[test]
    fn transient_failures_are_retried_and_permanent_ones_name_the_key() {
        let Some((python, moto, _)) = server_and_store("unused") else {
            return;
        };
        // Every request fails twice (503) before it reaches moto: 3 retries get through.
        let flaky = proxy(&python, &moto, 0, 2, "");
        let store = Store::from_url_with("s3://test/flaky.zarr", &options(&flaky.url())).unwrap();
        let x = from_ndarray(&formula::<i32>(&[10, 10]), [5, 5]).unwrap();
        x.to_zarr(&store, "x", &WriteOptions::default()).unwrap();
        assert_same(
            &read_back::<i32>(&store, "x"),
            &formula::<i32>(&[10, 10]),
            "x",
        );

        // Every request fails 100 times: after 3 retries the open fails, naming the key.
        let broken = proxy(&python, &moto, 0, 100, "");
        let store = Store::from_url_with("s3://test/flaky.zarr", &options(&broken.url())).unwrap();
        let message = zarr::open(&store, "x").unwrap_err().to_string();
        assert!(
            message.contains("x/zarr.json") && message.contains("503"),
            "{message}"
        );
        // Chunk requests fail for good, metadata gets through: the read names the chunk.
        let chunks_fail = proxy(&python, &moto, 0, 100, "/c/");
        let store =
            Store::from_url_with("s3://test/flaky.zarr", &options(&chunks_fail.url())).unwrap();
        let x = zarr::open(&store, "x")
            .unwrap()
            .into_typed::<i32>()
            .unwrap();
        let message = x.compute().unwrap_err().to_string();
        assert!(
            message.contains("s3://test/flaky.zarr/x/c/") && message.contains("503"),
            "{message}"
        );
    }

    #[test]
    fn upcoming_tiles_are_fetched_ahead_within_the_memory_budget() {
        let Some((python, moto, store)) = server_and_store("ahead.zarr") else {
            return;
        };
        let values = formula::<f64>(&[40, 40]);
        from_ndarray(&values, [10, 10])
            .unwrap()
            .to_zarr(&store, "x", &WriteOptions::default())
            .unwrap();
        // 20 ms per request: one worker reading 16 chunks one by one has one in flight.
        let slow = proxy(&python, &moto, 20, 0, "");
        let store = Store::from_url_with("s3://test/ahead.zarr", &options(&slow.url())).unwrap();
        let x = zarr::open(&store, "x")
            .unwrap()
            .into_typed::<f64>()
            .unwrap();
        let tile = 10 * 10 * 8;
        let one_by_one = Config::default().threads(1).io_concurrency(0);
        let _ = most_in_flight(slow.port);
        assert_same(&x.compute_with(&one_by_one).unwrap(), &values, "one by one");
        assert_eq!(most_in_flight(slow.port), 1);
        // Fetched ahead, 8 tasks at a time.
        let ahead = Config::default().threads(1).io_concurrency(8);
        assert_same(&x.compute_with(&ahead).unwrap(), &values, "ahead");
        let most = most_in_flight(slow.port);
        assert!(most >= 4, "{most} requests in flight at most");
        // A budget of 6 tiles: the result's tiles and what is fetched ahead fit in it.
        let (sum, report) = x
            .sum()
            .compute_report(&ahead.clone().memory_budget(6 * tile))
            .unwrap();
        assert!((sum.sum() - values.sum()).abs() <= 1e-9 * values.sum().abs());
        assert!(report.peak_bytes <= 6 * tile, "{report:?}");
        // The sum folds each chunk as it is decoded, by the task that reads it: those
        // tasks fetch ahead too.
        assert!(
            x.sum()
                .explain()
                .unwrap()
                .contains("folded as it is decoded")
        );
        let _ = most_in_flight(slow.port);
        let sum = x.sum().compute_with(&ahead).unwrap();
        assert!((sum.sum() - values.sum()).abs() <= 1e-9 * values.sum().abs());
        let most = most_in_flight(slow.port);
        assert!(most >= 4, "{most} requests in flight at most while summing");
    }

    #[test]
    fn reductions_fold_fetched_zstd_chunks_as_they_are_decoded() {
        let Some((python, moto, store)) = server_and_store("folded.zarr") else {
            return;
        };
        // Which path decoded each tile, as the reads' spans record it (the arrays' names are
        // this test's alone).
        let spans = crate::spans::spans();
        let from_body = "decoded=\"zstd blocks of the fetched body\"";
        // Chunks of 6 MB of noise, which zstd barely shrinks: kept in the pieces their
        // bodies arrive in. Then chunks of 320 KB, gathered into one buffer each.
        let noise = chunkwise::random::uniform::<f64>(3, 0.0, 1.0, &[2048, 768], [1024, 768]);
        let noise = noise.unwrap();
        let options = WriteOptions::default().compression(Compression::Zstd { level: 1 });
        noise.to_zarr(&store, "noise", &options).unwrap();
        let stored = zarr::open(&store, "noise").unwrap().into_typed::<f64>();
        let (stored, noise) = (stored.unwrap(), noise.compute().unwrap());
        let plan = stored.sum().explain().unwrap();
        assert!(plan.contains("folded as it is decoded"), "{plan}");
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs().max(1.0);
        let sums = stored.sum_axis(1).compute().unwrap();
        let want = noise.sum_axis(ndarray::Axis(1));
        assert!(sums.iter().zip(&want).all(|(&g, &w)| close(g, w)));
        let reads = spans.zarr_reads("/noise");
        assert_eq!(reads.len(), 2, "{reads:?}");
        assert!(reads.iter().all(|f| f.contains(from_body)), "{reads:?}");
        let data = formula::<f64>(&[400, 400]);
        from_ndarray(&data, [200, 200])
            .unwrap()
            .to_zarr(&store, "folded", &options)
            .unwrap();
        let open = || {
            zarr::open(&store, "folded")
                .unwrap()
                .into_typed::<f64>()
                .unwrap()
        };
        let x = open();
        let plan = x.sum().explain().unwrap();
        assert!(
            plan.contains("folded as it is decoded"),
            "the source is not streamed:\n{plan}"
        );
        for config in [Config::default(), Config::default().io_concurrency(0)] {
            let sum = x.sum().compute_with(&config).unwrap().sum();
            assert!(close(sum, data.sum()), "{sum} vs {}", data.sum());
            let means = x.mean_axis(0).compute_with(&config).unwrap();
            let want = data.mean_axis(ndarray::Axis(0)).unwrap();
            assert!(means.iter().zip(&want).all(|(&g, &w)| close(g, w)));
        }
        let reads = spans.zarr_reads("/folded");
        assert_eq!(reads.len(), 4 * 4, "{reads:?}");
        assert!(reads.iter().all(|f| f.contains(from_body)), "{reads:?}");

        // A frame cut short, or followed by stray bytes, is a corrupt chunk, named.
        let key = "folded/c/1/0";
        let path = format!("test/folded.zarr/{key}");
        let rows = data.slice(s![200..400, 0..200]).to_owned();
        let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
        let frame = zstd_frame(&bytes);
        let mut padded = frame.clone();
        padded.extend_from_slice(b"stray bytes");
        for damaged in [&frame[..frame.len() / 2], &padded[..]] {
            put_object(&python, &moto.url(), &path, damaged);
            let error = open().sum().compute().unwrap_err();
            assert_corrupt_chunk(&error, key, "fetched");
        }
        // A chunk of two frames: the block-by-block decoder gives up after the first (its
        // blocks already folded), and the tile comes again, whole, from zarrs' path.
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        let mut two_frames = zstd_frame(head);
        two_frames.extend(zstd_frame(tail));
        put_object(&python, &moto.url(), &path, &two_frames);
        let before = spans.zarr_reads("/folded").len();
        let sum = open().sum().compute().unwrap().sum();
        assert!(close(sum, data.sum()), "{sum} vs {}", data.sum());
        let reads = spans.zarr_reads("/folded").split_off(before);
        let restarted = |f: &String| f.contains("ranges=[200..400, 0..200] ");
        for read in &reads {
            let how = match restarted(read) {
                true => "decoded=\"zarrs codec pipeline\"",
                false => from_body,
            };
            assert!(read.contains(how), "{reads:?}");
        }
        assert_eq!(
            reads.iter().filter(|f| restarted(f)).count(),
            1,
            "{reads:?}"
        );
    }

    #[test]
    fn concurrent_writers_of_different_chunks_each_write_their_own() {
        let Some((_python, _moto, store)) = server_and_store("concurrent.zarr") else {
            return;
        };
        let shape = [40, 40];
        chunkwise::zeros::<f64>(&shape, [10, 10])
            .unwrap()
            .to_zarr(&store, "x", &WriteOptions::default())
            .unwrap();
        let expected = formula::<f64>(&shape);
        std::thread::scope(|scope| {
            for band in 0..4 {
                let (store, expected) = (store.clone(), &expected);
                scope.spawn(move || {
                    let rows = band * 10..band * 10 + 10;
                    let part = expected.slice(s![rows.clone(), ..]).to_owned().into_dyn();
                    from_ndarray(&part, [10, 10])
                        .unwrap()
                        .to_zarr_region(&store, "x", &[rows, 0..40], &Config::default())
                        .unwrap();
                });
            }
        });
        assert_same(&read_back::<f64>(&store, "x"), &expected, "x");
    }

    #[test]
    fn wrong_credentials_are_refused_with_the_servers_reason() {
        let Some(python) = with_moto(python()) else {
            return;
        };
        let (moto, id, secret) = moto_with_user(&python, "private");
        let (id, secret) = (id.as_str(), secret.as_str());
        let reach = |id: &str, secret: &str| {
            let o = options(&moto.url()).credentials(id, secret, None);
            Store::from_url_with("s3://private/x.zarr", &o).unwrap()
        };
        let values = formula::<u8>(&[6, 6]);
        let good = reach(id, secret);
        from_ndarray(&values, [3, 3])
            .unwrap()
            .to_zarr(&good, "a", &WriteOptions::default())
            .unwrap();
        assert_same(&read_back::<u8>(&good, "a"), &values, "a");
        for (id, secret, reason) in [
            (id, "not-the-secret", "SignatureDoesNotMatch"),
            ("AKIANOSUCHKEY0000000", secret, "InvalidAccessKeyId"),
        ] {
            let message = zarr::open(reach(id, secret), "a").unwrap_err().to_string();
            assert!(
                message.contains("s3://private/x.zarr") && message.contains(reason),
                "{message}"
            );
        }
    }

    #[test]
    fn http_stores_read_and_refuse_writes() {
        let Some(python) = with_moto(python()) else {
            return;
        };
        let dir = TempDir::new("http-store");
        let local = dir.join("store.zarr");
        let values = formula::<f64>(&[12, 10]);
        for (name, version) in [("v2", ZarrVersion::V2), ("v3", ZarrVersion::V3)] {
            from_ndarray(&values, [5, 4])
                .unwrap()
                .to_zarr(&local, name, &WriteOptions::default().version(version))
                .unwrap();
        }
        write_odd_names(&dir.join("~user/données.zarr"));
        let server = http_server(&python, &dir.join(""));
        read_odd_names_over_http(&server.url());
        let url = format!("{}/store.zarr", server.url());
        for name in ["v2", "v3"] {
            let back = zarr::open(url.as_str(), name)
                .unwrap()
                .into_typed::<f64>()
                .unwrap()
                .compute()
                .unwrap();
            assert_same(&back, &values, name);
        }
        let message = zarr::open(url.as_str(), "absent").unwrap_err().to_string();
        assert!(message.contains("absent"), "{message}");
        let err = from_ndarray(&values, [5, 4])
            .unwrap()
            .to_zarr(url.as_str(), "new", &WriteOptions::default())
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("read-only") && message.contains(&url),
            "{message}"
        );
        assert!(
            zarr::create_group(url.as_str(), "/g", &Default::default())
                .unwrap_err()
                .to_string()
                .contains("read-only")
        );
        assert!(!dir.join("store.zarr/new").exists());
    }

    #[test]
    fn a_value_larger_than_any_chunk_is_refused_before_it_is_downloaded() {
        let Some((python, moto, store)) = server_and_store("big.zarr") else {
            return;
        };
        let x = chunkwise::arange::<f64>(0.0, 16.0, 1.0, [4]).unwrap();
        x.to_zarr(&store, "x", &WriteOptions::default()).unwrap();
        // 4 MiB where a chunk of four f64 takes a few hundred bytes at most.
        put_object(
            &python,
            &moto.url(),
            "test/big.zarr/x/c/1",
            &vec![0; 4 << 20],
        );
        let a = zarr::open(&store, "x")
            .unwrap()
            .into_typed::<f64>()
            .unwrap();
        // Fetched ahead (the default): refused from the size the server announces.
        let error = a.sum().compute().unwrap_err().to_string();
        assert!(
            error.contains("not downloaded") && error.contains("c/1"),
            "{error}"
        );
        // Not fetched ahead: the task's own lease on its chunks is refused the same way.
        let one_by_one = Config::default().io_concurrency(0);
        let error = a.sum().compute_with(&one_by_one).unwrap_err().to_string();
        assert!(
            error.contains("not downloaded") && error.contains("c/1"),
            "{error}"
        );
    }

    #[test]
    fn http_groups_are_listed_from_their_consolidated_metadata() {
        let Some(python) = with_moto(python()) else {
            return;
        };
        let dir = TempDir::new("http-groups");
        let local = dir.join("store.zarr");
        let values = formula::<f64>(&[6, 4]);
        let x = from_ndarray(&values, [3, 4]).unwrap();
        for (name, version) in [("v2", ZarrVersion::V2), ("v3", ZarrVersion::V3)] {
            let group = GroupOptions::default().version(version);
            // `name` (consolidated, with `a`), `name/sub` (consolidated, with `b`), and
            // `name/sub/inner` (empty, not consolidated: the nearest consolidated group
            // above it lists it).
            let dims = || WriteOptions::default().dimension_names(["y", "x"]);
            Dataset::new()
                .array("a", &x, dims())
                .to_zarr(&local, name, &group)
                .unwrap();
            Dataset::new()
                .array("b", &(&x * 2.0), dims())
                .to_zarr(&local, &format!("{name}/sub"), &group)
                .unwrap();
            zarr::create_group(&local, &format!("{name}/sub/inner"), &group).unwrap();
        }
        write_odd_names(&dir.join("~user/données.zarr"));
        let server = http_server(&python, &dir.join(""));
        read_odd_names_over_http(&server.url());
        let url = format!("{}/store.zarr", server.url());
        for name in ["v2", "v3"] {
            let group = zarr::open_group(url.as_str(), name).unwrap();
            assert_eq!(
                (group.arrays(), group.groups()),
                (&["a".to_string()][..], &["sub".to_string()][..]),
                "{name}"
            );
            let a = group.array("a").unwrap().into_typed::<f64>().unwrap();
            assert_same(&a.compute().unwrap(), &values, name);
            let sub = group.group("sub").unwrap();
            assert_eq!(
                (sub.arrays(), sub.groups()),
                (&["b".to_string()][..], &["inner".to_string()][..]),
                "{name}"
            );
            let b = sub.array("b").unwrap().into_typed::<f64>().unwrap();
            assert_same(&b.compute().unwrap(), &(&values * 2.0), name);
            let inner = sub.group("inner").unwrap();
            assert!(
                inner.arrays().is_empty() && inner.groups().is_empty(),
                "{name}"
            );
        }
        // The root's consolidated metadata, written with the groups below it (as xarray
        // writes it), lists them.
        let root = zarr::open_group(url.as_str(), "/").unwrap();
        assert!(root.groups().contains(&"v2".to_string()), "{root:?}");
        // A group with no consolidated metadata on the way up: an error that says so.
        let bare = dir.join("bare.zarr");
        zarr::create_group(&bare, "g", &GroupOptions::default()).unwrap();
        let bare_url = format!("{}/bare.zarr", server.url());
        let message = zarr::open_group(bare_url.as_str(), "g")
            .unwrap_err()
            .to_string();
        assert!(message.contains("consolidated metadata"), "{message}");
    }
}
