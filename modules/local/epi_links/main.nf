// One links table per sample (epi-prioritize links): ABC, EPInformer's scores (optional) and
// every pair-model prediction table, joined by (element, gene) with per-gene ranks.
process EPI_LINKS {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(abc), path(epinformer), path(predictions)

    output:
    tuple val(meta), path("${prefix}.links.tsv"), emit: links
    path "versions.yml"                         , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def epinformer_arg = epinformer ? "--epinformer ${epinformer}" : ''
    def pairs_scores_args = (predictions instanceof List ? predictions : [predictions]).collect { "--pairs-scores ${it}" }.join(' ')
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-prioritize links \\
        --abc ${abc} \\
        ${epinformer_arg} \\
        ${pairs_scores_args} \\
        --out ${prefix}.links.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.links.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
