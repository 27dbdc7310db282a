use std::path::Path;

use super::*;

/// Builds a `.npy` file the way `numpy.save` does: header padded so that data starts on a
/// 64-byte boundary.
fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut text = header.to_string();
    while !(prefix + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((text.len() as u16).to_le_bytes());
    } else {
        out.extend((text.len() as u32).to_le_bytes());
    }
    out.extend(text.as_bytes());
    out.extend(data);
    out
}

#[test]
fn reads_corpus_input() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus/convnet/input.npy");
    let tensor = read_npy(&path);
    let Ok(HostTensor {
        shape,
        data: Buffer::Float32(values),
    }) = tensor
    else {
        panic!("expected float32 data, got {tensor:?}");
    };
    assert_eq!(shape, [1, 3, 32, 32]);
    assert_eq!(values.len(), 3 * 32 * 32);
    assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn reads_each_version() {
    let data: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    for version in [1, 2, 3] {
        let tensor = parse_npy(&npy(version, header, &data));
        assert_eq!(
            tensor,
            Ok(HostTensor {
                shape: vec![2],
                data: Buffer::Float32(vec![1.5, -2.0]),
            }),
            "version {version}"
        );
    }
}

#[test]
fn reads_integer_types() {
    let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }";
    let data: Vec<u8> = [7i64, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
    let tensor = parse_npy(&npy(1, header, &data)).map(|t| t.data);
    assert_eq!(tensor, Ok(Buffer::Int64(vec![7, -3])));

    let header = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
    let tensor = parse_npy(&npy(1, header, &[0, 128, 255])).map(|t| t.data);
    assert_eq!(tensor, Ok(Buffer::Uint8(vec![0, 128, 255])));

    let header = "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }";
    let tensor = parse_npy(&npy(1, header, &[0xff, 5])).map(|t| t.data);
    assert_eq!(tensor, Ok(Buffer::Int8(vec![-1, 5])));

    let header = "{'descr': '<i4', 'fortran_order': False, 'shape': (), }";
    let tensor = parse_npy(&npy(1, header, &(-9i32).to_le_bytes()));
    assert_eq!(
        tensor,
        Ok(HostTensor {
            shape: vec![],
            data: Buffer::Int32(vec![-9]),
        })
    );

    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
    let tensor = parse_npy(&npy(2, header, &0.25f64.to_le_bytes())).map(|t| t.data);
    assert_eq!(tensor, Ok(Buffer::Float64(vec![0.25])));
}

#[test]
fn rejects_bad_files() {
    let f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04".to_vec(), "magic"),
        (MAGIC.to_vec(), "truncated"),
        (npy(1, f4, &[0; 4]), "4 data bytes follow"),
        (npy(1, f4, &[0; 12]), "12 data bytes follow"),
        (npy(4, f4, &[0; 8]), "version 4"),
        (
            npy(
                1,
                "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 8],
            ),
            "big-endian",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                &[0; 8],
            ),
            "Fortran",
        ),
        (
            npy(
                1,
                "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                &[0; 8],
            ),
            "unsupported dtype",
        ),
        (
            npy(1, "{'descr': '<f4', 'shape': (2,), }", &[0; 8]),
            "fortran_order",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
                &[0; 8],
            ),
            "negative",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }",
                &[0; 8],
            ),
            "limit",
        ),
        (
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
                &[],
            ),
            "invalid .npy",
        ),
    ];
    for (bytes, expected) in cases {
        let result = parse_npy(&bytes);
        assert!(
            result.as_ref().is_err_and(|e| e.contains(expected)),
            "expected an error with `{expected}`, got {result:?}"
        );
    }
}

#[test]
fn header_length_beyond_file_is_error() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend([2, 0]);
    bytes.extend(u32::MAX.to_le_bytes());
    bytes.extend(b"{}");
    let result = parse_npy(&bytes);
    assert!(result.is_err_and(|e| e.contains("truncated")));
}

#[test]
fn read_npy_names_the_file() {
    let result = read_npy(Path::new("/no/such/input.npy"));
    assert!(result.is_err_and(|e| e.starts_with("/no/such/input.npy: cannot read")));
}
