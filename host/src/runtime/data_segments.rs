//! Fewer, larger data segments in snapshotted components.
//!
//! wasmtime-wizer writes one data segment per run of non-zero bytes in the
//! snapshotted memory: thousands for a QuickJS heap (up to its cap of
//! 10,000). wasmtime keeps memory images copy-on-write, so the number of
//! segments does not change how memory is initialized, but every
//! instantiation still records the position of each segment in the new
//! instance: measured at 13% of the CPU of a trivial execution from a script
//! snapshot. Merging segments separated by less than a page (filling the
//! gaps with the zeros that were there) leaves the memory identical and makes
//! that bookkeeping negligible.

use anyhow::{Context as _, bail};
use wasm_encoder::{ConstExpr, DataCountSection, DataSection, Encode as _};
use wasmparser::{BinaryReader, DataKind, DataSectionReader, Operator};

/// Gaps up to this many zero bytes are filled.
pub const MAX_GAP: u32 = 4096;

/// `component` with the active data segments of each core module merged
/// where at most `max_gap` zero bytes separate them.
pub fn merge(component: &[u8], max_gap: u32) -> anyhow::Result<Vec<u8>> {
    let merged = rewrite_component(component, max_gap)?;
    // Code may name an active segment by index too (`data.drop`), which no
    // compiler emits; validation would catch it.
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&merged)
        .context("the component with merged data segments does not validate")?;
    Ok(merged)
}

const CORE_MODULE_SECTION: u8 = 1;
const COMPONENT_SECTION: u8 = 4;
const DATA_SECTION: u8 = 11;
const DATA_COUNT_SECTION: u8 = 12;

/// One section of a binary: its id and contents.
struct Section<'a> {
    id: u8,
    contents: &'a [u8],
}

/// The 8-byte preamble, then the sections.
fn sections(binary: &[u8]) -> anyhow::Result<(&[u8], Vec<Section<'_>>)> {
    if binary.len() < 8 {
        bail!("not a WebAssembly binary");
    }
    let mut reader = BinaryReader::new(&binary[8..], 8);
    let mut found = Vec::new();
    while !reader.eof() {
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let contents = reader.read_bytes(size)?;
        found.push(Section { id, contents });
    }
    Ok((&binary[..8], found))
}

fn append_section(out: &mut Vec<u8>, id: u8, contents: &[u8]) {
    out.push(id);
    (contents.len() as u32).encode(out);
    out.extend_from_slice(contents);
}

fn rewrite_component(component: &[u8], max_gap: u32) -> anyhow::Result<Vec<u8>> {
    let (preamble, sections) = sections(component)?;
    let mut out = Vec::with_capacity(component.len());
    out.extend_from_slice(preamble);
    for section in sections {
        match section.id {
            CORE_MODULE_SECTION => {
                let module = rewrite_module(section.contents, max_gap)?;
                append_section(&mut out, section.id, &module);
            }
            COMPONENT_SECTION => {
                let nested = rewrite_component(section.contents, max_gap)?;
                append_section(&mut out, section.id, &nested);
            }
            id => append_section(&mut out, id, section.contents),
        }
    }
    Ok(out)
}

fn rewrite_module(module: &[u8], max_gap: u32) -> anyhow::Result<Vec<u8>> {
    let (preamble, sections) = sections(module)?;
    let Some(data) = sections.iter().find(|s| s.id == DATA_SECTION) else {
        return Ok(module.to_vec());
    };
    let Some(merged) = merged_data(data.contents, max_gap)? else {
        return Ok(module.to_vec());
    };
    let mut out = Vec::with_capacity(module.len());
    out.extend_from_slice(preamble);
    for section in &sections {
        match section.id {
            DATA_COUNT_SECTION => {
                let mut contents = Vec::new();
                DataCountSection {
                    count: merged.len(),
                }
                .encode(&mut contents);
                // `DataCountSection::encode` writes its own size prefix.
                out.push(DATA_COUNT_SECTION);
                out.extend_from_slice(&contents);
            }
            DATA_SECTION => {
                out.push(DATA_SECTION);
                merged.encode(&mut out);
            }
            id => append_section(&mut out, id, section.contents),
        }
    }
    Ok(out)
}

/// The merged data section, or `None` when it has anything but active
/// segments of memory 0 at constant offsets (left as they are).
fn merged_data(contents: &[u8], max_gap: u32) -> anyhow::Result<Option<DataSection>> {
    let reader = DataSectionReader::new(BinaryReader::new(contents, 0))?;
    // Passive segments are referred to by index (`memory.init`), so they
    // keep theirs: they must all come first, and are copied as they are.
    let mut passive: Vec<&[u8]> = Vec::new();
    let mut segments: Vec<(u32, Vec<u8>)> = Vec::new();
    for data in reader {
        let data = data?;
        let offset_expr = match data.kind {
            DataKind::Passive if segments.is_empty() => {
                passive.push(data.data);
                continue;
            }
            DataKind::Active {
                memory_index: 0,
                offset_expr,
            } => offset_expr,
            _ => return Ok(None),
        };
        let mut operators = offset_expr.get_operators_reader();
        let offset = match (operators.read()?, operators.read()?) {
            (Operator::I32Const { value }, Operator::End) => value as u32,
            _ => return Ok(None),
        };
        segments.push((offset, data.data.to_vec()));
    }
    segments.sort_by_key(|(offset, _)| *offset);
    let mut merged: Vec<(u32, Vec<u8>)> = Vec::new();
    for (offset, bytes) in segments {
        if let Some((start, joined)) = merged.last_mut() {
            let end = *start + joined.len() as u32;
            if offset < end {
                bail!("overlapping data segments at {offset:#x}");
            }
            if offset - end <= max_gap {
                joined.resize((offset - *start) as usize, 0);
                joined.extend_from_slice(&bytes);
                continue;
            }
        }
        merged.push((offset, bytes));
    }
    let mut section = DataSection::new();
    for bytes in passive {
        section.passive(bytes.iter().copied());
    }
    for (offset, bytes) in merged {
        section.active(0, &ConstExpr::i32_const(offset as i32), bytes);
    }
    Ok(Some(section))
}

/// How many data segments each core module of `component` has (for tests
/// and diagnostics).
pub fn segment_counts(component: &[u8]) -> anyhow::Result<Vec<u32>> {
    let mut counts = Vec::new();
    count_in_component(component, &mut counts).context("reading the component")?;
    Ok(counts)
}

fn count_in_component(component: &[u8], counts: &mut Vec<u32>) -> anyhow::Result<()> {
    for section in sections(component)?.1 {
        match section.id {
            CORE_MODULE_SECTION => {
                for inner in sections(section.contents)?.1 {
                    if inner.id == DATA_SECTION {
                        counts.push(
                            DataSectionReader::new(BinaryReader::new(inner.contents, 0))?.count(),
                        );
                    }
                }
            }
            COMPONENT_SECTION => count_in_component(section.contents, counts)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component around one module with two passive segments and many
    /// small active ones, in two clusters far apart.
    fn scattered() -> Vec<u8> {
        use wasm_encoder::{MemorySection, MemoryType, Module, ModuleSection};
        let mut module = Module::new();
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 64,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
        module.section(&DataCountSection { count: 2 + 200 });
        let mut data = DataSection::new();
        data.passive(*b"first passive");
        data.passive(*b"second");
        for n in 0..100u32 {
            data.active(0, &ConstExpr::i32_const((n * 40) as i32), [n as u8 + 1; 8]);
            let far = 2 * 1024 * 1024 + n * 100;
            data.active(0, &ConstExpr::i32_const(far as i32), [n as u8 + 7; 3]);
        }
        module.section(&data);
        let mut component = wasm_encoder::Component::new();
        component.section(&ModuleSection(&module));
        component.finish()
    }

    #[test]
    fn runs_of_bytes_are_joined_and_memory_stays_the_same() {
        let before = scattered();
        let merged = merge(&before, MAX_GAP).expect("merged");
        assert_eq!(segment_counts(&before).expect("counted"), vec![202]);
        // The passive segments, then one segment per cluster.
        assert_eq!(segment_counts(&merged).expect("counted"), vec![4]);
        assert_eq!(memory_image(&before), memory_image(&merged));
        // Merging again changes nothing.
        assert_eq!(merge(&merged, MAX_GAP).expect("merged again"), merged);
    }

    #[test]
    fn the_shipped_engine_is_built_with_merged_segments() {
        let counts = segment_counts(crate::runtime::ENGINE_WASM).expect("counted");
        assert!(counts.iter().sum::<u32>() < 50, "{counts:?}");
    }

    /// The first module's initial memory, as the data segments lay it out.
    fn memory_image(component: &[u8]) -> Vec<u8> {
        let mut image = Vec::new();
        for section in sections(component).expect("sections").1 {
            if section.id != CORE_MODULE_SECTION {
                continue;
            }
            for inner in sections(section.contents).expect("module sections").1 {
                if inner.id != DATA_SECTION {
                    continue;
                }
                let reader =
                    DataSectionReader::new(BinaryReader::new(inner.contents, 0)).expect("data");
                for data in reader {
                    let data = data.expect("segment");
                    let DataKind::Active { offset_expr, .. } = data.kind else {
                        continue;
                    };
                    let Operator::I32Const { value } =
                        offset_expr.get_operators_reader().read().expect("offset")
                    else {
                        continue;
                    };
                    let end = value as usize + data.data.len();
                    if image.len() < end {
                        image.resize(end, 0);
                    }
                    image[value as usize..end].copy_from_slice(data.data);
                }
            }
            return image;
        }
        image
    }
}
