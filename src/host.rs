//! CPU features of the deployment target: the host (read with raw-cpuid) or a named profile.
//!
//! Flag names follow Linux `/proc/cpuinfo` (`avx512_vnni`, `avx_vnni`, `amx_int8`, ...), so a
//! user can paste them from the deployment machine.

use std::collections::BTreeSet;
use std::fmt;

/// The int8-relevant features of one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuTarget {
    /// `host`, a profile name, or the sorted flags of a flag list.
    pub name: String,
    /// Linux `/proc/cpuinfo` flag names.
    pub flags: BTreeSet<String>,
}

/// Flags that qlint reads; a custom list may use only these.
pub const KNOWN_FLAGS: &[&str] = &[
    "sse4_1",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx_vnni_int8",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimddp",
    "i8mm",
];

const SSE_AVX2: &[&str] = &["sse4_1", "avx", "avx2", "fma"];
const AVX512: &[&str] = &["avx512f", "avx512bw", "avx512vl"];

/// Named deployment CPUs: `(name, description, flags beyond AVX2)`. The flag sets follow the
/// vendors' published feature lists for each microarchitecture.
pub const PROFILES: &[(&str, &str, &[&str])] = &[
    ("haswell", "Intel Haswell (AVX2, no AVX-512, no VNNI)", &[]),
    (
        "skylake-sp",
        "Intel Skylake-SP Xeon (AVX-512, no VNNI)",
        AVX512,
    ),
    (
        "cascadelake",
        "Intel Cascade Lake Xeon (AVX512-VNNI)",
        &["avx512f", "avx512bw", "avx512vl", "avx512_vnni"],
    ),
    (
        "icelake-server",
        "Intel Ice Lake Xeon (AVX512-VNNI)",
        &["avx512f", "avx512bw", "avx512vl", "avx512_vnni"],
    ),
    (
        "sapphirerapids",
        "Intel Sapphire Rapids Xeon (AVX512-VNNI, AVX-VNNI, AMX-INT8)",
        &[
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512_vnni",
            "avx_vnni",
            "amx_tile",
            "amx_int8",
            "amx_bf16",
        ],
    ),
    (
        "alderlake",
        "Intel Alder Lake (AVX-VNNI, no AVX-512)",
        &["avx_vnni"],
    ),
    ("zen2", "AMD Zen 2 (AVX2, no VNNI)", &[]),
    ("zen3", "AMD Zen 3 (AVX2, no VNNI)", &[]),
    (
        "zen4",
        "AMD Zen 4 (AVX512-VNNI)",
        &["avx512f", "avx512bw", "avx512vl", "avx512_vnni"],
    ),
];

impl CpuTarget {
    /// True when the flag is present.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(flag)
    }

    /// True when the CPU has a VNNI dot-product instruction (AVX512-VNNI or AVX-VNNI), so ORT's
    /// u8s8 kernels accumulate in int32 and cannot saturate.
    pub fn has_vnni(&self) -> bool {
        self.has("avx512_vnni") || self.has("avx_vnni")
    }

    /// Reads the host CPU.
    pub fn host() -> CpuTarget {
        CpuTarget {
            name: "host".to_string(),
            flags: host_flags(),
        }
    }

    /// Parses `--target-cpu`: `host`, a profile name, or a comma-separated flag list.
    pub fn parse(spec: &str) -> Result<CpuTarget, String> {
        let spec = spec.trim();
        if spec == "host" {
            return Ok(CpuTarget::host());
        }
        if let Some((name, _, extra)) = PROFILES.iter().find(|(name, _, _)| *name == spec) {
            let flags = SSE_AVX2
                .iter()
                .chain(extra.iter())
                .map(|f| f.to_string())
                .collect();
            return Ok(CpuTarget {
                name: name.to_string(),
                flags,
            });
        }
        if spec.is_empty() {
            return Err(
                "empty CPU: use host, a profile name, or a comma-separated flag list".into(),
            );
        }
        let mut flags = BTreeSet::new();
        for flag in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !KNOWN_FLAGS.contains(&flag) {
                let profiles: Vec<&str> = PROFILES.iter().map(|p| p.0).collect();
                return Err(format!(
                    "unknown CPU profile or flag `{flag}`: use host, one of {}, or flags from {}",
                    profiles.join(", "),
                    KNOWN_FLAGS.join(", ")
                ));
            }
            flags.insert(flag.to_string());
        }
        // A flag list is named by its flags, so messages show what the user asked for.
        let name = flags.iter().cloned().collect::<Vec<_>>().join(",");
        Ok(CpuTarget { name, flags })
    }
}

impl fmt::Display for CpuTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(target_arch = "x86_64")]
fn host_flags() -> BTreeSet<String> {
    use raw_cpuid::CpuId;

    let cpuid = CpuId::new();
    let mut flags = BTreeSet::new();
    let mut add = |on: bool, name: &str| {
        if on {
            flags.insert(name.to_string());
        }
    };
    if let Some(f) = cpuid.get_feature_info() {
        add(f.has_sse41(), "sse4_1");
        add(f.has_avx(), "avx");
        add(f.has_fma(), "fma");
    }
    if let Some(e) = cpuid.get_extended_feature_info() {
        add(e.has_avx2(), "avx2");
        add(e.has_avx512f(), "avx512f");
        add(e.has_avx512bw(), "avx512bw");
        add(e.has_avx512vl(), "avx512vl");
        // CPUID.(7,0):ECX[11]
        add(e.has_avx512vnni(), "avx512_vnni");
        // CPUID.(7,0):EDX[24], EDX[25], EDX[22]
        add(e.has_amx_tile(), "amx_tile");
        add(e.has_amx_int8(), "amx_int8");
        add(e.has_amx_bf16(), "amx_bf16");
        // CPUID.(7,1):EAX[4]
        add(e.has_avx_vnni(), "avx_vnni");
    }
    flags
}

// NOTE: on non-x86 hosts qlint reports no flags, so host rules judge the CPU as lacking VNNI;
// pass --target-cpu with flags (for ARM, asimddp and i8mm) to judge such machines.
#[cfg(not(target_arch = "x86_64"))]
fn host_flags() -> BTreeSet<String> {
    BTreeSet::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_vnni_as_documented() {
        let vnni = |name: &str| CpuTarget::parse(name).map(|c| c.has_vnni());
        assert_eq!(vnni("skylake-sp"), Ok(false));
        assert_eq!(vnni("haswell"), Ok(false));
        assert_eq!(vnni("zen3"), Ok(false));
        assert_eq!(vnni("cascadelake"), Ok(true));
        assert_eq!(vnni("icelake-server"), Ok(true));
        assert_eq!(vnni("alderlake"), Ok(true));
        assert_eq!(vnni("zen4"), Ok(true));
    }

    #[test]
    fn flag_list_parses() {
        let cpu = CpuTarget::parse("avx2, avx_vnni");
        assert_eq!(cpu.as_ref().map(|c| c.name.as_str()), Ok("avx2,avx_vnni"));
        assert_eq!(cpu.map(|c| c.has_vnni()), Ok(true));
    }

    #[test]
    fn unknown_flag_is_error() {
        let err = CpuTarget::parse("avx9000").err().unwrap_or_default();
        assert!(
            err.contains("unknown CPU profile or flag `avx9000`"),
            "{err}"
        );
    }
}
