process EPI_REPORT {
    tag "${meta.id}"
    label 'process_single'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(runs, stageAs: 'runs/*')

    output:
    tuple val(meta), path("${prefix}.html")       , emit: html
    tuple val(meta), path("${prefix}.summary.tsv"), emit: summary
    path "versions.yml"                           , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_report"
    """
    epi-report html runs \\
        --title ${meta.id} \\
        --summary ${prefix}.summary.tsv \\
        --out ${prefix}.html \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_report"
    """
    touch ${prefix}.html ${prefix}.summary.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
