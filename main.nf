#!/usr/bin/env nextflow
/*
 * epitools: enhancer-promoter interactions (--mode pairs), gene expression with enhancer
 * prioritization (--mode genes) and genome-wide enhancer-gene maps from a lab's own peaks,
 * annotation, signal and Hi-C (--mode genome). Every step is an epi-* command; this file only
 * wires channels (fan-out over samples, models, folds and checkpoints, joins by sample).
 */
nextflow.enable.dsl = 2

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'

include { EPI_SIMULATE                } from './modules/local/epi_simulate/main'
include { EPI_FETCH as FETCH_GENOME   } from './modules/local/epi_fetch/main'
include { EPI_FETCH as FETCH_PAIRS    } from './modules/local/epi_fetch/main'
include { EPI_FETCH as FETCH_CRISPR   } from './modules/local/epi_fetch/main'
include { HIC_CONTACTS                } from './modules/local/hic_contacts/main'
include { EPI_ENCODE                  } from './modules/local/epi_encode/main'
include { EPI_ENCODE_GENES            } from './modules/local/epi_encode_genes/main'
include { EPI_TRAIN                   } from './modules/local/epi_train/main'
include { EPI_PREDICT                 } from './modules/local/epi_predict/main'
include { EPI_ATTRIBUTE_SCORES        } from './modules/local/epi_attribute_scores/main'
include { EPI_MODISCO                 } from './modules/local/epi_modisco/main'
include { EPI_PRIORITIZE              } from './modules/local/epi_prioritize/main'
include { EPI_PRIORITIZE_GENES        } from './modules/local/epi_prioritize_genes/main'
include { EPI_EVALUATE                } from './modules/local/epi_evaluate/main'
include { EPI_REPORT                  } from './modules/local/epi_report/main'
include { EPI_MODELS                  } from './modules/local/epi_models/main'
include { EPI_SELECT                  } from './modules/local/epi_select/main'
include { EPI_VARIANTS                } from './modules/local/epi_variants/main'
include { EPI_CANDIDATE_REGIONS       } from './modules/local/epi_candidate_regions/main'
include { EPI_CANDIDATE_GENES         } from './modules/local/epi_candidate_genes/main'
include { EPI_ACTIVITY                } from './modules/local/epi_activity/main'
include { EPI_CANDIDATE_PAIRS         } from './modules/local/epi_candidate_pairs/main'
include { EPI_ABC                     } from './modules/local/epi_abc/main'
include { EPI_PREDICT_PAIRS           } from './modules/local/epi_predict_pairs/main'
include { EPI_LINKS                   } from './modules/local/epi_links/main'
include { EPI_TRACKS                  } from './modules/local/epi_tracks/main'

// A value written `source:id` (genome:hg38, targetfinder:K562, encode:ENCFF...) is an
// accession that EPI_FETCH downloads; anything else is a local file.
def isAccession(value) {
    value instanceof CharSequence && value ==~ /^(genome|targetfinder|bengi|encode|4dn|url):.+/
}

def fetchRequest(value) {
    def parts = value.toString().split(':', 2)
    [[id: parts[1].replaceAll(/[^A-Za-z0-9_.-]/, '_'), key: value.toString()], parts[0], parts[1]]
}

def listOf(csv) {
    csv ? csv.toString().tokenize(',')*.trim().findAll { it } : []
}

// Index files (.fai, .gzi) beside a local FASTA travel with it.
def localGenome(value) {
    def fasta = file(value.toString(), checkIfExists: true)
    [fasta, [file("${fasta}.fai"), file("${fasta}.gzi")].findAll { it.exists() }]
}

// Index files (.bai, .csi, .crai) beside a local BAM/CRAM travel with it; pysam finds them by name.
def signalIndexes(signal) {
    signal ? ['bai', 'csi', 'crai'].collect { file("${signal}.${it}") }.findAll { it.exists() } : []
}

def optionalFile(value) {
    value ? file(value.toString(), checkIfExists: true) : []
}

// Pair-model checkpoints of a genome-mode sample, [name, file]: the samplesheet's `checkpoints`
// (';'-separated) and --checkpoints (','-separated). The name (the folder's when the file is
// model.pt, as epi-train and epi-report select write it; numbered when two share one) becomes
// the links table's `<name>_score` column.
def checkpointsOf(value) {
    def files = ((value ? value.toString().tokenize(';') : []) + listOf(params.checkpoints))*.trim()
        .findAll { it }.collect { file(it, checkIfExists: true) }
    def names = files.collect { (it.name == 'model.pt' ? it.parent.name : it.baseName).replaceAll(/[^A-Za-z0-9_]/, '_') }
    files.indices.collect { i -> [names.count(names[i]) > 1 ? "${names[i]}_${i + 1}" : names[i], files[i]] }
}

def firstTable(files) {
    (files instanceof List ? files : [files]).find { it.name != 'fetch.tsv' }
}

def foldsToRun(total) {
    params.run_folds ? listOf(params.run_folds).collect { it as int } : (1..total).toList()
}

// Each requested pair model as [name, store need, split], all read from the registry dump
// (EPI_MODELS: name, encoding, task, augment_copies, max_shift, paper_split, paper_folds); a
// name the registry does not know stops the run here. The need (encoding, augment_copies,
// max_shift) keys EPI_ENCODE: --paper_data takes each model's paper augmentation, else one
// unaugmented store per encoding. --split paper takes each model's paper split and folds.
def modelNeeds(models, registry) {
    models.collect { name ->
        def entry = registry[name]
        if (!entry) {
            error "--models: '${name}' is not a registered model (${registry.keySet().sort().join(', ')})"
        }
        if (entry.task != 'pairs') {
            error "--models: '${name}' is a ${entry.task} model; --mode pairs trains pair models"
        }
        def need = [encoding: entry.encoding, augment_copies: 0, max_shift: 0]
        if (params.paper_data) {
            need = [encoding: entry.encoding, augment_copies: (entry.augment_copies as int), max_shift: (entry.max_shift as int)]
        }
        def split = [split: params.split, folds: params.folds]
        if (params.split == 'paper') {
            if (!entry.paper_split) {
                error "--split paper: model '${name}' states no paper split; choose --split chrom"
            }
            split = [split: entry.paper_split, folds: (entry.paper_folds as int)]
        }
        [name, need, split]
    }
}

// The store a training run read: its sample and store need.
def storeKey(meta) {
    [meta.id, meta.encoding, meta.augment_copies, meta.max_shift]
}

// The training runs of each sample, grouped: [[id, cell_type], [run directories]].
def bySample(runs) {
    runs.map { meta, run -> [[id: meta.id, cell_type: meta.cell_type], run] }.groupTuple()
}

// EPI_SELECT's choice ([sample meta, selection.tsv, model.pt]) with the training meta of the
// chosen run, found by its run directory name among `runs` ([training meta, run directory]).
def selectedRuns(selection, model, runs) {
    selection.map { meta, tsv -> [meta.id, tsv.splitCsv(header: true, sep: '\t')[0].run] }
        .join(model.map { meta, checkpoint -> [meta.id, checkpoint] })
        .map { id, run, checkpoint -> [[id, run], checkpoint] }
        .combine(runs.map { meta, run -> [[meta.id, run.name], meta] }, by: 0)
        .map { key, checkpoint, meta -> [meta, checkpoint] }
}

workflow EPITOOLS {
    take:
    samples   // [ meta, pairs, genome, hic, dnase, h3k27ac, genes, expression, elements, vcf,
              //   peaks, annotation, atac, checkpoints ]
    crispr    // [ meta, benchmark ] or empty

    main:
    ch_versions = Channel.empty()

    // ---- accessions -> EPI_FETCH; local paths pass through, keyed by the samplesheet value
    ch_genome_values = samples.map { row -> [row[0], row[2]] }
    FETCH_GENOME(
        ch_genome_values.filter { meta, genome -> isAccession(genome) }
            .map { meta, genome -> genome.toString() }.unique().map { fetchRequest(it) }
    )
    ch_versions = ch_versions.mix(FETCH_GENOME.out.versions)
    ch_fetched_genomes = FETCH_GENOME.out.genome
        .join(FETCH_GENOME.out.genome_index, remainder: true)
        .map { meta, fasta, index -> [meta.key, fasta, index ?: []] }
    ch_genome = ch_genome_values.filter { meta, genome -> isAccession(genome) }
        .map { meta, genome -> [genome.toString(), meta] }
        .combine(ch_fetched_genomes, by: 0)
        .map { key, meta, fasta, index -> [meta, fasta, index] }
        .mix(ch_genome_values.filter { meta, genome -> genome && !isAccession(genome) }
            .map { meta, genome -> [meta] + localGenome(genome) })

    ch_pairs_values = samples.map { row -> [row[0], row[1]] }.filter { meta, pairs -> pairs }
    FETCH_PAIRS(
        ch_pairs_values.filter { meta, pairs -> isAccession(pairs) }
            .map { meta, pairs -> pairs.toString() }.unique().map { fetchRequest(it) }
    )
    ch_versions = ch_versions.mix(FETCH_PAIRS.out.versions)
    ch_pairs = ch_pairs_values.filter { meta, pairs -> isAccession(pairs) }
        .map { meta, pairs -> [pairs.toString(), meta] }
        .combine(FETCH_PAIRS.out.tables.map { meta, files -> [meta.key, firstTable(files)] }, by: 0)
        .map { key, meta, pairs -> [meta, pairs] }
        .mix(ch_pairs_values.filter { meta, pairs -> !isAccession(pairs) }
            .map { meta, pairs -> [meta, file(pairs.toString(), checkIfExists: true)] })

    // Hi-C: the sample's own file, else --hic, else none (power-law contacts).
    ch_hic = samples.map { row -> [row[0], row[3] ?: (params.hic ? file(params.hic, checkIfExists: true) : [])] }
    ch_tracks = samples.map { row -> [row[0], row[4] ?: [], row[5] ?: []] }

    ch_runs = Channel.empty()
    ch_best_input = Channel.empty()
    ch_report = Channel.empty()   // further outputs of a sample for its report

    if (params.mode == 'pairs') {
        // ---- contacts (only where there is Hi-C) -> encode per store need -> models x folds
        ch_with_hic = ch_pairs.join(ch_hic).branch { meta, pairs, hic ->
            hic: hic
            none: true
        }
        HIC_CONTACTS(ch_with_hic.hic)
        ch_versions = ch_versions.mix(HIC_CONTACTS.out.versions)
        ch_pairs_ready = HIC_CONTACTS.out.pairs.mix(ch_with_hic.none.map { meta, pairs, hic -> [meta, pairs] })

        // Each model's store (encoding, augmentation) and paper split come from the model
        // registry (epi-train --list-models); one EPI_ENCODE per distinct need of the models.
        EPI_MODELS(Channel.of([id: 'models']))
        ch_versions = ch_versions.mix(EPI_MODELS.out.versions)
        ch_models = EPI_MODELS.out.tsv
            .flatMap { meta, tsv ->
                modelNeeds(listOf(params.models), tsv.splitCsv(header: true, sep: '\t').collectEntries { [it.name, it] })
            }
        EPI_ENCODE(
            ch_pairs_ready.join(ch_genome)
                .combine(ch_models.map { model, need, split -> need }.unique())
                .map { meta, pairs, fasta, index, need -> [meta + need, pairs, fasta, index] }
        )
        ch_versions = ch_versions.mix(EPI_ENCODE.out.versions)

        ch_train = EPI_ENCODE.out.store
            .combine(ch_models)
            .filter { meta, store, model, need, split -> meta.subMap(need.keySet()) == need }
            .flatMap { meta, store, model, need, split ->
                foldsToRun(split.folds).collect { fold -> [meta + [model: model] + split + [fold: fold], store] }
            }
        EPI_TRAIN(ch_train)
        ch_versions = ch_versions.mix(EPI_TRAIN.out.versions)
        ch_runs = EPI_TRAIN.out.run

        EPI_PREDICT(EPI_TRAIN.out.model.join(ch_train))
        ch_versions = ch_versions.mix(EPI_PREDICT.out.versions)

        // ---- variant effects of the samplesheet's `vcf` under every fold model of the sample
        EPI_VARIANTS(
            samples.map { row -> [row[0].id, row[0], row[9]] }.filter { id, meta, vcf -> vcf }
                .join(ch_genome.map { meta, fasta, index -> [meta.id, fasta, index] })
                .join(ch_pairs_ready.map { meta, pairs -> [meta.id, pairs] })
                .combine(EPI_TRAIN.out.model.map { meta, model -> [meta.id, model] }.groupTuple(), by: 0)
                .map { id, meta, vcf, fasta, index, pairs, models -> [meta, vcf, fasta, index, models, pairs, []] }
        )
        ch_versions = ch_versions.mix(EPI_VARIANTS.out.versions)
        ch_report = ch_report.mix(EPI_VARIANTS.out.dir)   // the report's variants section

        // ---- attribute the best run of each sample (epi-report select: --select_metric on its test fold)
        if (params.attribute) {
            EPI_SELECT(bySample(EPI_TRAIN.out.run), params.select_metric, 'test')
            ch_versions = ch_versions.mix(EPI_SELECT.out.versions)
            ch_best_input = selectedRuns(EPI_SELECT.out.selection, EPI_SELECT.out.model, EPI_TRAIN.out.run)
                .map { meta, model -> [storeKey(meta), meta, model] }
                .combine(EPI_ENCODE.out.store.map { meta, store -> [storeKey(meta), store] }, by: 0)
                .map { key, meta, model, store -> [meta, model, store] }
            EPI_ATTRIBUTE_SCORES(ch_best_input)
            ch_versions = ch_versions.mix(EPI_ATTRIBUTE_SCORES.out.versions)
            EPI_MODISCO(EPI_ATTRIBUTE_SCORES.out.attributions)
            ch_versions = ch_versions.mix(EPI_MODISCO.out.versions)
        }
    } else if (params.mode == 'genome') {
        // ---- candidates -> activity -> pairs -> contacts -> ABC -> (EPInformer on `expression`)
        //      -> pair-model checkpoints -> links -> tracks -> CRISPRi -> report
        // [meta, peaks, annotation, dnase, atac, h3k27ac, expression], absent files as []
        ch_rows = samples.map { row ->
            if (!row[2] || !row[10] || !row[11] || !(row[4] || row[12])) {
                error "Sample '${row[0].id}': --mode genome needs the `genome`, `peaks`, `annotation` and `dnase` or `atac` columns"
            }
            [row[0], row[10], row[11], row[4] ?: [], row[12] ?: [], row[5] ?: [], row[7] ?: []]
        }
        def include_bed = optionalFile(params.include_regions)
        def block_bed = optionalFile(params.block_regions)

        // Peaks rank by the DNase (else ATAC) reads or signal.
        EPI_CANDIDATE_REGIONS(
            ch_rows.join(ch_genome).map { meta, peaks, annotation, dnase, atac, h3k27ac, expression, fasta, index ->
                [meta, peaks, dnase ?: atac, signalIndexes(dnase ?: atac), fasta, index, include_bed, block_bed]
            }
        )
        ch_versions = ch_versions.mix(EPI_CANDIDATE_REGIONS.out.versions)
        EPI_CANDIDATE_GENES(
            ch_rows.join(ch_genome).map { meta, peaks, annotation, dnase, atac, h3k27ac, expression, fasta, index ->
                [meta, annotation, expression, fasta, index]
            }
        )
        ch_versions = ch_versions.mix(EPI_CANDIDATE_GENES.out.versions)
        EPI_ACTIVITY(
            EPI_CANDIDATE_REGIONS.out.regions.join(EPI_CANDIDATE_GENES.out.genes).join(ch_rows).join(ch_genome)
                .map { meta, regions, genes, peaks, annotation, dnase, atac, h3k27ac, expression, fasta, index ->
                    [meta, regions, genes, dnase, atac, h3k27ac, [dnase, atac, h3k27ac].collectMany { signalIndexes(it) }, fasta, index]
                }
        )
        ch_versions = ch_versions.mix(EPI_ACTIVITY.out.versions)
        EPI_CANDIDATE_PAIRS(EPI_ACTIVITY.out.elements.join(EPI_CANDIDATE_GENES.out.genes).join(ch_genome))
        ch_versions = ch_versions.mix(EPI_CANDIDATE_PAIRS.out.versions)
        HIC_CONTACTS(EPI_CANDIDATE_PAIRS.out.pairs.join(ch_hic))
        ch_versions = ch_versions.mix(HIC_CONTACTS.out.versions)
        ch_contacts = HIC_CONTACTS.out.pairs
        EPI_ABC(ch_contacts)
        ch_versions = ch_versions.mix(EPI_ABC.out.versions)

        // ---- EPInformer where the sample has `expression` (joined onto the genes table above):
        // gene store of the candidates, folds, the best validation fold's scores.
        ch_no_expression = ch_rows.filter { row -> !row[6] }.map { row -> row[0].id }
        EPI_ENCODE_GENES(
            ch_rows.filter { row -> row[6] }.map { row -> [row[0], row[6]] }
                .join(EPI_CANDIDATE_GENES.out.genes).join(EPI_ACTIVITY.out.elements).join(ch_genome).join(ch_hic)
                .map { meta, expression, genes, elements, fasta, index, hic -> [meta, genes, elements, fasta, index, hic, []] }
        )
        ch_versions = ch_versions.mix(EPI_ENCODE_GENES.out.versions)
        ch_train = EPI_ENCODE_GENES.out.store.flatMap { meta, store ->
            foldsToRun(params.gene_folds).collect { fold ->
                [meta + [model: params.gene_model, split: 'chrom12', folds: params.gene_folds, fold: fold], store]
            }
        }
        EPI_TRAIN(ch_train)
        ch_versions = ch_versions.mix(EPI_TRAIN.out.versions)
        ch_runs = EPI_TRAIN.out.run
        EPI_SELECT(bySample(EPI_TRAIN.out.run), 'pearson_r', 'val')
        ch_versions = ch_versions.mix(EPI_SELECT.out.versions)
        ch_gene_model = selectedRuns(EPI_SELECT.out.selection, EPI_SELECT.out.model, EPI_TRAIN.out.run)
        EPI_PRIORITIZE_GENES(
            ch_gene_model.map { meta, model -> [meta.id, meta, model] }
                .combine(EPI_ENCODE_GENES.out.store.map { meta, store -> [meta.id, store] }, by: 0)
                .map { id, meta, model, store -> [meta, model, store] }
        )
        ch_versions = ch_versions.mix(EPI_PRIORITIZE_GENES.out.versions)

        // ---- every pair-model checkpoint of the sample over all its candidate pairs
        ch_checkpoints = samples.map { row -> [row[0].id, checkpointsOf(row[13])] }
        EPI_PREDICT_PAIRS(
            ch_checkpoints.flatMap { id, named -> named.collect { name, model -> [id, name, model] } }
                .combine(ch_contacts.join(ch_genome).map { meta, pairs, fasta, index -> [meta.id, meta, pairs, fasta, index] }, by: 0)
                .map { id, name, model, meta, pairs, fasta, index -> [meta + [model: name], model, pairs, fasta, index] }
        )
        ch_versions = ch_versions.mix(EPI_PREDICT_PAIRS.out.versions)

        // ---- one links table (ABC, EPInformer, each checkpoint) -> browser tracks
        ch_epinformer_scores = ch_no_expression.map { id -> [id, []] }
            .mix(EPI_PRIORITIZE_GENES.out.scores.map { meta, scores -> [meta.id, scores] })
        ch_pair_scores = ch_checkpoints.filter { id, named -> !named }.map { id, named -> [id, []] }
            .mix(EPI_PREDICT_PAIRS.out.predictions.map { meta, table -> [meta.id, table] }.groupTuple())
        EPI_LINKS(
            EPI_ABC.out.scores.map { meta, abc -> [meta.id, meta, abc] }
                .join(ch_epinformer_scores).join(ch_pair_scores)
                .map { id, meta, abc, epinformer, predictions -> [meta, abc, epinformer, predictions] }
        )
        ch_versions = ch_versions.mix(EPI_LINKS.out.versions)
        EPI_TRACKS(
            EPI_LINKS.out.links.join(ch_genome)
                .map { meta, links, fasta, index -> [meta + [score_column: params.track_score], links, fasta, index] }
        )
        ch_versions = ch_versions.mix(EPI_TRACKS.out.versions)

        // ---- variant effects of the samplesheet's `vcf` under the checkpoints and EPInformer
        ch_variant_models = ch_checkpoints.map { id, named -> [id, named.collect { it[1] }] }
            .mix(ch_gene_model.map { meta, model -> [meta.id, [model]] })
            .groupTuple().map { id, lists -> [id, lists.flatten()] }
        ch_gene_store = ch_no_expression.map { id -> [id, []] }
            .mix(EPI_ENCODE_GENES.out.store.map { meta, store -> [meta.id, store] })
        EPI_VARIANTS(
            samples.map { row -> [row[0].id, row[0], row[9]] }.filter { id, meta, vcf -> vcf }
                .join(ch_genome.map { meta, fasta, index -> [meta.id, fasta, index] })
                .join(ch_contacts.map { meta, pairs -> [meta.id, pairs] })
                .join(ch_variant_models).join(ch_gene_store)
                .filter { id, meta, vcf, fasta, index, pairs, models, store -> models }
                .map { id, meta, vcf, fasta, index, pairs, models, store -> [meta, vcf, fasta, index, models, pairs, store] }
        )
        ch_versions = ch_versions.mix(EPI_VARIANTS.out.versions)
        ch_report = ch_report.mix(EPI_VARIANTS.out.dir)   // the report's variants section

        // ---- CRISPRi benchmark: ABC, EPInformer's --crispr_score and each checkpoint's score
        ch_predictors = EPI_ABC.out.scores
            .mix(EPI_PRIORITIZE_GENES.out.scores.map { meta, scores ->
                [[id: meta.id, cell_type: meta.cell_type, predictor: meta.model, score_column: params.crispr_score], scores]
            })
            .mix(EPI_PREDICT_PAIRS.out.predictions.map { meta, table ->
                [[id: meta.id, cell_type: meta.cell_type, predictor: meta.model, score_column: 'score'], table]
            })
        EPI_EVALUATE(ch_predictors.combine(crispr.map { meta, benchmark -> benchmark }))
        ch_versions = ch_versions.mix(EPI_EVALUATE.out.versions)

        // The report reads contacts (with their power-law sidecar), ABC, EPInformer's scores,
        // the CRISPRi evaluations and the variant effects besides the training runs.
        ch_report = ch_report.mix(ch_contacts, HIC_CONTACTS.out.info, EPI_ABC.out.scores, EPI_PRIORITIZE_GENES.out.dir, EPI_EVALUATE.out.dir)
    } else {
        // ---- contacts -> gene store -> EPInformer over the 12 chromosome folds -> prioritize
        // An `expression` file (gene, expression) replaces the genes table's expression column.
        ch_genes = samples.map { row ->
            if (!row[6] || !row[8]) {
                error "Sample '${row[0].id}': --mode genes needs the `genes` and `elements` columns"
            }
            [row[0], row[6], row[8], row[7] ?: []]
        }
        EPI_ENCODE_GENES(
            ch_genes.join(ch_genome).join(ch_hic)
                .map { meta, genes, elements, expression, fasta, index, hic ->
                    [meta, genes, elements, fasta, index, hic, expression]
                }
        )
        ch_versions = ch_versions.mix(EPI_ENCODE_GENES.out.versions)

        ch_train = EPI_ENCODE_GENES.out.store.flatMap { meta, store ->
            foldsToRun(params.gene_folds).collect { fold ->
                [meta + [model: params.gene_model, split: 'chrom12', folds: params.gene_folds, fold: fold], store]
            }
        }
        EPI_TRAIN(ch_train)
        ch_versions = ch_versions.mix(EPI_TRAIN.out.versions)
        ch_runs = EPI_TRAIN.out.run

        // EPInformer scores (attention, ABC, attention-ABC, knockout) of every gene from the fold
        // model with the best validation Pearson R (epi-report select --on val): one model ranks
        // all genes comparably, and the choice never looks at a test fold.
        EPI_SELECT(bySample(EPI_TRAIN.out.run), 'pearson_r', 'val')
        ch_versions = ch_versions.mix(EPI_SELECT.out.versions)
        EPI_PRIORITIZE_GENES(
            selectedRuns(EPI_SELECT.out.selection, EPI_SELECT.out.model, EPI_TRAIN.out.run)
                .map { meta, model -> [meta.id, meta, model] }
                .combine(EPI_ENCODE_GENES.out.store.map { meta, store -> [meta.id, store] }, by: 0)
                .map { id, meta, model, store -> [meta, model, store] }
        )
        ch_versions = ch_versions.mix(EPI_PRIORITIZE_GENES.out.versions)

        // ---- variant effects of the samplesheet's `vcf` under the selected EPInformer
        EPI_VARIANTS(
            samples.map { row -> [row[0].id, row[0], row[9]] }.filter { id, meta, vcf -> vcf }
                .join(ch_genome.map { meta, fasta, index -> [meta.id, fasta, index] })
                .join(selectedRuns(EPI_SELECT.out.selection, EPI_SELECT.out.model, EPI_TRAIN.out.run)
                    .map { meta, model -> [meta.id, model] })
                .join(EPI_ENCODE_GENES.out.store.map { meta, store -> [meta.id, store] })
                .map { id, meta, vcf, fasta, index, model, store -> [meta, vcf, fasta, index, [model], [], store] }
        )
        ch_versions = ch_versions.mix(EPI_VARIANTS.out.versions)
        ch_report = ch_report.mix(EPI_VARIANTS.out.dir)   // the report's variants section

        // Candidate pairs (when given) get contacts and ABC scores.
        HIC_CONTACTS(ch_pairs.join(ch_hic))
        ch_versions = ch_versions.mix(HIC_CONTACTS.out.versions)
        EPI_PRIORITIZE(HIC_CONTACTS.out.pairs.join(ch_tracks).join(ch_hic))
        ch_versions = ch_versions.mix(EPI_PRIORITIZE.out.versions)

        // CRISPRi benchmark: ABC of the candidate pairs and EPInformer's --crispr_score, one call each.
        ch_predictors = EPI_PRIORITIZE.out.scores.mix(
            EPI_PRIORITIZE_GENES.out.scores.map { meta, scores ->
                [[id: meta.id, cell_type: meta.cell_type, predictor: meta.model, score_column: params.crispr_score], scores]
            }
        )
        EPI_EVALUATE(ch_predictors.combine(crispr.map { meta, benchmark -> benchmark }))
        ch_versions = ch_versions.mix(EPI_EVALUATE.out.versions)
    }

    EPI_REPORT(bySample(ch_runs.mix(ch_report)))
    ch_versions = ch_versions.mix(EPI_REPORT.out.versions)

    emit:
    runs     = ch_runs
    report   = EPI_REPORT.out.html
    versions = ch_versions
}

workflow {
    validateParameters()
    log.info paramsSummaryLog(workflow)

    if (params.input) {
        ch_samples = Channel.fromList(samplesheetToList(params.input, "${projectDir}/assets/schema_input.json"))
    } else if (params.simulate) {
        // The test profile: one simulated sample with planted, known truth.
        EPI_SIMULATE(Channel.of([id: 'simulated', cell_type: params.simulate_cell_type]))
        ch_sim_pairs = EPI_SIMULATE.out.pairs
            .join(EPI_SIMULATE.out.genome)
            .join(EPI_SIMULATE.out.hic)
            .join(EPI_SIMULATE.out.dnase)
            .join(EPI_SIMULATE.out.h3k27ac)
            .join(EPI_SIMULATE.out.genes)
            .join(EPI_SIMULATE.out.elements)
            .map { meta, pairs, fasta, fai, hic, dnase, h3k27ac, genes, elements ->
                [meta, pairs, fasta, hic, dnase, h3k27ac, genes, [], elements]
            }
        // --mode genome reads the files a lab has: the simulator's peaks, GTF, DNase BAM (with
        // its index beside it), H3K27ac bigWig and .hic, and its genes table as the expression.
        ch_sim_genome = EPI_SIMULATE.out.dir.join(EPI_SIMULATE.out.genome)
            .map { meta, dir, fasta, fai ->
                [meta, [], fasta, dir.resolve('hic.hic'), dir.resolve('dnase.bam'), dir.resolve('h3k27ac.bw'), [],
                 dir.resolve('genes.tsv'), [], [], dir.resolve('peaks.narrowPeak'), dir.resolve('genes.gtf'), [], []]
            }
        ch_samples = params.mode == 'genome' ? ch_sim_genome : ch_sim_pairs
    } else {
        error "Give --input samplesheet.csv (or use -profile test, which simulates a data set)"
    }

    ch_crispr = Channel.empty()
    if (params.crispr) {
        if (isAccession(params.crispr)) {
            FETCH_CRISPR(Channel.of(fetchRequest(params.crispr)))
            ch_crispr = FETCH_CRISPR.out.tables.map { meta, files -> [meta, firstTable(files)] }
        } else {
            ch_crispr = Channel.of([[id: 'crispr'], file(params.crispr, checkIfExists: true)])
        }
    }

    EPITOOLS(ch_samples, ch_crispr)

    EPITOOLS.out.versions.unique()
        .collectFile(name: 'software_versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true)
}
