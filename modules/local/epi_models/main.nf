// The model registry as a table (name, encoding, task, augment_copies, max_shift, paper_split,
// paper_folds): main.nf gives each requested model the store its class reads (one-hot or k-mer,
// with its paper's augmentation under --paper_data) and, with --split paper, its paper split,
// from this dump, not from parameters.
process EPI_MODELS {
    tag "${meta.id}"
    label 'process_single'
    container "${params.container_cpu}"

    input:
    val(meta)

    output:
    tuple val(meta), path("${prefix}.tsv"), emit: tsv
    path "versions.yml"                   , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-train \\
        --list-models \\
        --format tsv \\
        ${args} \\
        > ${prefix}.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    // The dump itself, not an empty file: it is instant, and a stub run routes models by it.
    """
    epi-train --list-models --format tsv > ${prefix}.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
