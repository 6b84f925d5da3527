// Every element-gene pair within --max-distance (ext.args) of each TSS (epi-candidates pairs),
// streamed one chromosome at a time.
process EPI_CANDIDATE_PAIRS {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(elements), path(genes), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}.pairs.tsv"), emit: pairs
    path "versions.yml"                         , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-candidates pairs \\
        --elements ${elements} \\
        --genes ${genes} \\
        --chrom-sizes ${genome} \\
        --out ${prefix}.pairs.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.pairs.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
